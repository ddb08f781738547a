import { EventEmitter } from 'events';
import { ack, retryable, type DeliveryResult, type QueueEntry } from '../delivery';
import type { ConnectionState, PlatformClient } from '../connection/platform-client';
import { MqttConnection } from '../mqtt/mqtt-connection';
import { wmwDownlink } from './mapping/downlink';
import type { WmwBody } from './mapping/uplink';
import {
  downlinkTopic,
  uplinkTopic,
  wmwBrokerUrl,
  WMW_TIMEOUT_MS,
  type WmwOptions,
} from './transport/wmw-mqtt';

/** WMW over MQTT: documents published to `uplink_<id>`, downlinks read from `downlink_<id>`. */
export class WmwClient extends EventEmitter implements PlatformClient<WmwBody> {
  private readonly mqtt: MqttConnection;
  private readonly uplink: string;

  constructor(options: WmwOptions) {
    super();
    const { host, port, enterpriseId, insecure, ...rest } = options;
    this.uplink = uplinkTopic(enterpriseId);
    this.mqtt = new MqttConnection({
      connectTimeoutMs: WMW_TIMEOUT_MS,
      actionTimeoutMs: WMW_TIMEOUT_MS,
      ...rest,
      url: wmwBrokerUrl(host, port, insecure),
    });
    this.mqtt.on('state', (state: ConnectionState, err?: Error) => this.emit('state', state, err));
    this.mqtt.on('error', (err: Error) => this.emit('error', err));
    this.mqtt.subscribe(downlinkTopic(enterpriseId), (topic, payload) => {
      try {
        this.emit('downlink', wmwDownlink(topic, payload, new Date()));
      } catch (err) {
        this.emit('downlink-error', err as Error);
      }
    });
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

  deliver(entry: QueueEntry<WmwBody>): Promise<DeliveryResult> {
    return this.mqtt.publish(this.uplink, entry.json, 1).then(ack, (err: Error) => retryable(err));
  }
}
