import type { EventEmitter } from 'events';
import type WebSocket from 'ws';
import { AlwaysOnClientError } from './errors';
import type { ClientState } from './options';

export interface KeepAlive {
  stop(): void;
}

/**
 * WebSocket ping every `pingIntervalMs` (none when 0); `onDead` when a pong does not come within `pongTimeoutMs`.
 */
export function startKeepAlive(
  ws: WebSocket,
  o: { pingIntervalMs: number; pongTimeoutMs: number },
  onDead: () => void,
): KeepAlive {
  let pingTimer: NodeJS.Timeout | undefined;
  let pongTimer: NodeJS.Timeout | undefined;
  const onPong = (): void => {
    if (pongTimer) clearTimeout(pongTimer);
    pongTimer = undefined;
  };
  ws.on('pong', onPong);
  if (o.pingIntervalMs > 0) {
    pingTimer = setInterval(() => {
      if (pongTimer) return;
      try {
        ws.ping();
      } catch {
        return;
      }
      pongTimer = setTimeout(() => {
        pongTimer = undefined;
        onDead();
      }, o.pongTimeoutMs);
    }, o.pingIntervalMs);
  }
  return {
    stop(): void {
      if (pingTimer) clearInterval(pingTimer);
      if (pongTimer) clearTimeout(pongTimer);
      pingTimer = pongTimer = undefined;
      ws.off('pong', onPong);
    },
  };
}

/** Resolves when `client` emits state `connected` (at once if it is); rejects on close or after `timeoutMs`. */
export function whenConnected(
  client: EventEmitter & { state: ClientState; lastError?: AlwaysOnClientError },
  stopped: () => boolean,
  timeoutMs: number,
): Promise<void> {
  if (client.state === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onState = (s: ClientState): void => {
      if (s === 'connected') {
        cleanup();
        resolve();
      } else if (stopped()) onClose();
    };
    const onClose = (): void => {
      cleanup();
      reject(new AlwaysOnClientError('closed', 'client closed'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new AlwaysOnClientError('timeout', `not connected within ${timeoutMs} ms`, {
          cause: client.lastError,
        }),
      );
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('state', onState);
      client.off('close', onClose);
    };
    client.on('state', onState);
    client.on('close', onClose);
  });
}
