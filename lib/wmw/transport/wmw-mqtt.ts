import { CHECK_TIMEOUT_MS, type CheckResult } from '../../connection/connection-check';
import { parseEndpoint } from '../../connection/endpoint';
import { checkMqttConnection } from '../../mqtt/mqtt-check';
import type { MqttConnectionOptions } from '../../mqtt/mqtt-connection';

/**
 * WMW regions with a public MQTT host (reference/wmw.md: the only one found is staging). Any other
 * instance is reached with region "custom" and its host name, which must always work.
 */
export const WMW_REGIONS: Record<string, string> = {
  staging: 'staging.mqtt.wmw-hub.com',
};
export const WMW_PORT = 8883;
/** IoT Flow raised WMW's connect and action timeouts to 60 s. */
export const WMW_TIMEOUT_MS = 60000;

export const uplinkTopic = (enterpriseId: string) => `uplink_${enterpriseId}`;
export const downlinkTopic = (enterpriseId: string) => `downlink_${enterpriseId}`;

export interface WmwOptions extends Omit<MqttConnectionOptions, 'url'> {
  host: string;
  port?: number;
  enterpriseId: string;
  /** Plain MQTT instead of TLS: only for local test brokers. */
  insecure?: boolean;
}

/** The MQTT URL of a WMW instance: TLS unless `insecure` (local test brokers). */
export function wmwBrokerUrl(host: string, port = WMW_PORT, insecure = false): string {
  return parseEndpoint(host, { protocol: 'mqtt', tls: !insecure, port }).url;
}

/** Where a connection goes: a known region's host, or the custom `host[:port]` (port 8883 when absent). */
export function wmwTarget(region: string, hostName: string): { host: string; port: number } {
  if (region && region !== 'custom' && WMW_REGIONS[region])
    return { host: WMW_REGIONS[region], port: WMW_PORT };
  const { host, port } = parseEndpoint(hostName, { protocol: 'mqtt', port: WMW_PORT });
  return { host, port };
}

/** One connect with these settings and the broker's verdict (see checkMqttConnection). */
export function checkWmwConnection(
  options: Omit<WmwOptions, 'enterpriseId'>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  const { host, port, insecure, ...rest } = options;
  return checkMqttConnection({ ...rest, url: wmwBrokerUrl(host, port, insecure) }, timeoutMs);
}
