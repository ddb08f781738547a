import WebSocket from 'ws';
import { AlwaysOnClientError } from './errors';
import type { AlwaysOnClientOptions, ResolvedOptions } from './options';
import { useSyncDeflate } from './sync-deflate';

/** Open the AlwaysOn WebSocket: `appKey` and `Max-Frame-Size` upgrade headers, TLS verified unless told not to. */
export function openSocket(url: string, options: AlwaysOnClientOptions, o: ResolvedOptions): WebSocket {
  const tls = options.tls ?? {};
  const secure = url.startsWith('wss:');
  const ws = new WebSocket(url, {
    headers: { appKey: options.appKey, 'Max-Frame-Size': String(o.chunkSize) },
    handshakeTimeout: o.connectTimeoutMs,
    // Offered as the SDK does; used only when the platform accepts it.
    perMessageDeflate: options.compression !== false,
    maxPayload: o.maxMessageSize,
    followRedirects: false,
    ...(secure
      ? {
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          passphrase: tls.passphrase,
          servername: tls.servername,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
          minVersion: tls.minVersion ?? 'TLSv1.2',
        }
      : {}),
  });
  ws.once('open', () => useSyncDeflate(ws, o.maxMessageSize));
  return ws;
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function classifySocketError(err: Error): AlwaysOnClientError {
  const m = /Unexpected server response: (\d+)/.exec(err.message);
  if (m) {
    const status = Number(m[1]);
    const kind = status === 401 || status === 403 ? 'auth' : 'transport';
    return new AlwaysOnClientError(kind, `WebSocket upgrade refused: HTTP ${status}`, {
      code: status,
      retryable: true,
      cause: err,
    });
  }
  return new AlwaysOnClientError('transport', `WebSocket error: ${err.message}`, { cause: err });
}

/** Close a socket politely, terminating it if the close handshake takes longer than `graceMs`. */
export function closeSocket(ws: WebSocket, graceMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(soft);
      clearTimeout(hard);
      resolve();
    };
    const soft = setTimeout(() => ws.terminate(), graceMs);
    const hard = setTimeout(finish, graceMs + 500);
    ws.once('close', finish);
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
    } catch {
      ws.terminate();
    }
  });
}

/** Wait for `p`, but no longer than `ms`. */
export async function raceTimer(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
