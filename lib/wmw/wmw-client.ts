import { EventEmitter } from 'events';
import { ack, retryable, type DeliveryResult, type QueueEntry } from '../delivery';
import type { ConnectionState, PlatformClient } from '../connection/platform-client';
import { CHECK_TIMEOUT_MS, type CheckResult } from '../connection/connection-check';
import { checkMqttConnection } from '../mqtt/mqtt-check';
import { MqttConnection, type MqttConnectionOptions } from '../mqtt/mqtt-connection';
import { parseDownlink } from '../thingpark/mapping/downlink';

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

export interface WmwMessageRef {
  topic: string;
  receivedAt: string;
}

/** The MQTT URL of a WMW instance: TLS unless `insecure` (local test brokers). */
export function wmwBrokerUrl(host: string, port = WMW_PORT, insecure = false): string {
  return `${insecure ? 'mqtt' : 'mqtts'}://${host}:${port}`;
}

/** One connect with these settings and the broker's verdict (see checkMqttConnection). */
export function checkWmwConnection(
  options: Omit<WmwOptions, 'enterpriseId'>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  const { host, port, insecure, ...rest } = options;
  return checkMqttConnection({ ...rest, url: wmwBrokerUrl(host, port, insecure) }, timeoutMs);
}

/** A ThingPark document as WMW takes it: typed JSON with its root key. */
export type WmwBody = Record<string, unknown>;

/** WMW over MQTT: documents published to `uplink_<id>`, downlinks read from `downlink_<id>`. */
export class WmwClient extends EventEmitter implements PlatformClient<WmwBody> {
  private readonly mqtt: MqttConnection;
  private readonly uplink: string;
  private readonly downlink: string;

  constructor(options: WmwOptions) {
    super();
    const { host, port, enterpriseId, insecure, ...rest } = options;
    this.uplink = uplinkTopic(enterpriseId);
    this.downlink = downlinkTopic(enterpriseId);
    this.mqtt = new MqttConnection({
      connectTimeoutMs: WMW_TIMEOUT_MS,
      actionTimeoutMs: WMW_TIMEOUT_MS,
      ...rest,
      url: wmwBrokerUrl(host, port, insecure),
    });
    this.mqtt.on('state', (state: ConnectionState, err?: Error) => this.emit('state', state, err));
    this.mqtt.on('error', (err: Error) => this.emit('error', err));
    this.mqtt.subscribe(this.downlink, (topic, payload) => this.onDownlink(topic, payload));
  }

  get state(): ConnectionState {
    return this.mqtt.state;
  }
  get lastError(): Error | undefined {
    return this.mqtt.lastError;
  }
  get reconnects(): number {
    return this.mqtt.reconnects;
  }

  start(): void {
    this.mqtt.start();
  }

  stop(): Promise<void> {
    return this.mqtt.stop();
  }

  async deliver(entry: QueueEntry<WmwBody>): Promise<DeliveryResult> {
    try {
      await this.mqtt.publish(this.uplink, entry.json, 1);
      return ack();
    } catch (err) {
      return retryable(err as Error);
    }
  }

  private onDownlink(topic: string, payload: Buffer): void {
    const text = payload.toString('utf8');
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      this.emit('downlink-error', new Error(`message on ${topic} is not JSON: ${preview(text)}`));
      return;
    }
    try {
      const request = parseDownlink(document, { allowDriverPayload: true });
      const ref: WmwMessageRef = { topic, receivedAt: new Date().toISOString() };
      this.emit('downlink', { request, ref });
    } catch (err) {
      this.emit('downlink-error', new Error(`message on ${topic}: ${(err as Error).message}`));
    }
  }
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
