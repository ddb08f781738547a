import {
  CHECK_TIMEOUT_MS,
  classifyNetworkError,
  failed,
  checkOnce,
  passed,
  type CheckResult,
} from '../connection/connection-check';
import { MqttConnection, type ConnectionState, type MqttConnectionOptions } from './mqtt-connection';

/** CONNACK return codes (MQTT 3.1.1) and reason codes (MQTT 5) that mean "wrong credentials or not allowed". */
const NOT_AUTHORISED = new Set([4, 5, 0x86, 0x87, 0x8c]);

/** What a failed MQTT connect says, as a check result. */
export function classifyMqttError(err: Error): CheckResult {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') {
    return failed(NOT_AUTHORISED.has(code) ? 'not-authorised' : 'refused', err.message);
  }
  if (err.message === 'connack timeout') return failed('timeout', err.message);
  return classifyNetworkError(err);
}

/**
 * Connects once with these options (our MqttConnection: same URL, TLS and credential handling as the
 * live connection), waits for the broker's CONNACK and disconnects. Nothing is subscribed or published.
 * The client id must differ from the live connection's, or the broker would drop that one.
 */
export function checkMqttConnection(
  options: MqttConnectionOptions,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  return checkOnce((settle) => {
    const connection = new MqttConnection({
      ...options,
      connectTimeoutMs: timeoutMs + 1000,
      backoff: { initialMs: 60000 },
    });
    connection.on('error', (err: Error) => settle(classifyMqttError(err)));
    connection.on('state', (state: ConnectionState) => {
      if (state === 'connected') settle(passed());
      else if (state === 'disconnected')
        settle(connection.lastError ? classifyMqttError(connection.lastError) : failed('unreachable'));
    });
    connection.start();
    return () => {
      connection.removeAllListeners();
      connection.on('error', () => undefined);
      return connection.stop(1000);
    };
  }, timeoutMs);
}
