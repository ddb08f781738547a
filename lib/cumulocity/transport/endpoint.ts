/** Where and as whom a gateway connects to Cumulocity's Core MQTT, and the dialog's connection check. */
import { CHECK_TIMEOUT_MS, type CheckResult } from '../../connection/connection-check';
import { checkMqttConnection } from '../../mqtt/mqtt-check';
import type { CumulocityOptions } from '../options';

export const CUMULOCITY_PORT = 8883;

/** The MQTT URL of a Cumulocity tenant: TLS unless `insecure` (local test brokers). */
export function cumulocityBrokerUrl(host: string, port = CUMULOCITY_PORT, insecure = false): string {
  return `${insecure ? 'mqtt' : 'mqtts'}://${host}:${port}`;
}

/** Cumulocity's MQTT user name: `<tenantId>/<user>`. */
export const cumulocityMqttUser = (tenantId: string, username: string): string => `${tenantId}/${username}`;

/**
 * One connect as `clientId` with these credentials and the platform's verdict (see
 * checkMqttConnection). Nothing is published or subscribed.
 */
export function checkCumulocityConnection(
  options: Pick<
    CumulocityOptions,
    'host' | 'port' | 'insecure' | 'tls' | 'tenantId' | 'username' | 'password'
  > & {
    clientId: string;
  },
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  return checkMqttConnection(
    {
      url: cumulocityBrokerUrl(options.host, options.port, options.insecure),
      clientId: options.clientId,
      username: cumulocityMqttUser(options.tenantId, options.username),
      password: options.password,
      tls: options.tls,
    },
    timeoutMs,
  );
}
