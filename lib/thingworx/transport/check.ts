import {
  CHECK_TIMEOUT_MS,
  classifyNetworkError,
  failed,
  checkOnce,
  passed,
  type CheckResult,
} from '../../connection/connection-check';
import type { AlwaysOnClientOptions, ClientState } from './options';
import { AlwaysOnClient } from './session';
import type { AlwaysOnClientError } from './errors';

/** What a failed AlwaysOn connect says, as a check result. */
export function classifyAlwaysOnError(err: AlwaysOnClientError): CheckResult {
  switch (err.kind) {
    case 'auth':
      return failed('not-authorised', err.code !== undefined ? String(err.code) : undefined);
    case 'timeout':
      return failed('timeout');
    case 'response':
    case 'protocol':
      return failed('refused', err.message);
    default: {
      const network = classifyNetworkError(err.cause ?? err);
      return network.code === 'failed' ? failed('failed', err.message) : network;
    }
  }
}

/**
 * Opens one AlwaysOn socket (our AlwaysOnClient: same URL, TLS and upgrade headers as the live
 * connection), waits for the platform's answer to AUTH and closes it. No Thing is bound.
 */
export function checkAlwaysOnConnection(
  options: Pick<AlwaysOnClientOptions, 'host' | 'port' | 'path' | 'url' | 'appKey' | 'allowInsecure' | 'tls'>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  return checkOnce((settle) => {
    const client = new AlwaysOnClient({
      ...options,
      connectTimeoutMs: timeoutMs + 1000,
      pingIntervalMs: 0,
      backoff: { initialMs: 60000 },
    });
    client.on('state', (state: ClientState, err?: AlwaysOnClientError) => {
      if (state === 'connected') settle(passed());
      else if (state === 'disconnected' && err) settle(classifyAlwaysOnError(err));
    });
    client.start();
    return () => {
      client.removeAllListeners('state');
      return client.close(500);
    };
  }, timeoutMs);
}
