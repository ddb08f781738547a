import { Mosquitto } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { answers, rss } from '../hostile/red-process';
import { Ledger } from './ledger';
import { collectGarbage, startInspectable } from './inspector';
import { FaultRelay } from '../../testkit/fault-relay';
import {
  AS_ID,
  AS_KEY,
  ENTERPRISE,
  FAULT_SETTINGS,
  RECORDER_BROKER_LIMITS,
  UPLINK_PATH,
  faultFlow,
  killBroker,
} from './rig';
import { PlatformRecorder, UplinkLoad, cumulocityUplink, wmwUplink, type LoadOptions } from './traffic';

export interface StageOptions {
  platform: 'wmw' | 'cumulocity';
  /** Password-protected broker (the gateway user and the recorder's own user). */
  auth?: boolean;
  /** Called before Node-RED starts, with its user directory (e.g. to mount the queue folder). */
  beforeStart?: (userDir: string) => void;
}

const GATEWAY_USER = 'gateway';
const GATEWAY_PASSWORD = 'gateway-pass';
const RECORDER_USER = 'recorder';
const RECORDER_PASSWORD = 'recorder-pass';
const TENANT = 't100';

/**
 * What every fault test runs: mosquitto standing in for the platform, a fault relay between it and
 * a real Node-RED process (uplink in → wmw out or cumulocity out), a recorder subscribed to the
 * platform topic directly at the broker, and the ledger counting it all.
 */
export class FaultStage {
  readonly ledger = new Ledger();
  readonly broker: Mosquitto;
  relay!: FaultRelay;
  red!: NodeRedProcess;
  recorder!: PlatformRecorder;
  private inspectPort = 0;
  /** Broker kills, connection resets, auth revocations so far. */
  readonly faults = { brokerKills: 0, resets: 0, authRevoked: 0 };

  constructor(readonly options: StageOptions) {
    const gatewayUser = options.platform === 'cumulocity' ? `${TENANT}/${GATEWAY_USER}` : GATEWAY_USER;
    this.broker = new Mosquitto({
      users: options.auth
        ? { [gatewayUser]: GATEWAY_PASSWORD, [RECORDER_USER]: RECORDER_PASSWORD }
        : undefined,
      extra: RECORDER_BROKER_LIMITS,
    });
  }

  async start(): Promise<this> {
    const { platform, auth } = this.options;
    await this.broker.start();
    const parse = platform === 'wmw' ? wmwUplink : cumulocityUplink;
    const uplinkTopic = platform === 'wmw' ? `uplink_${ENTERPRISE}` : 'event/events/create';
    this.relay = await new FaultRelay(this.broker.port, {
      onBrokerAck: (topic, payload, openedAt) => {
        const up = topic === uplinkTopic ? parse(payload) : undefined;
        if (up) this.ledger.noteBrokerAcked(up.dev, up.fCnt, openedAt);
      },
    }).start();
    const { flows, credentials } = faultFlow({
      platformPort: this.relay.port,
      platform,
      ...(auth ? { username: GATEWAY_USER, password: GATEWAY_PASSWORD } : {}),
    });
    this.red = new NodeRedProcess(flows, credentials, FAULT_SETTINGS);
    this.options.beforeStart?.(this.red.userDir);
    this.recorder = new PlatformRecorder(this.ledger, {
      url: this.broker.url,
      topic: uplinkTopic,
      parse,
      ...(auth ? { username: RECORDER_USER, password: RECORDER_PASSWORD } : {}),
    });
    await this.recorder.connect();
    this.inspectPort = await startInspectable(this.red);
    return this;
  }

  /** Steady signed uplinks into Node-RED's `uplink in`. */
  load(options: Omit<LoadOptions, 'target'>): UplinkLoad {
    return new UplinkLoad(this.ledger, {
      target: { url: `${this.red.url}${UPLINK_PATH}`, asId: AS_ID, asKey: AS_KEY },
      ...options,
    });
  }

  /**
   * Kills the broker with SIGKILL, keeps it down for `downMs`, starts it again on the same port. The
   * recorder is subscribed again before Node-RED may reconnect (the relay refuses it meanwhile): with
   * a clean session, what Node-RED publishes to a broker nobody subscribes to would be lost on the
   * recorder's side, which is not what this counts.
   */
  async killBroker(downMs: number): Promise<void> {
    this.relay.accepting = false;
    this.ledger.noteBrokerKilled();
    await killBroker(this.broker);
    this.faults.brokerKills++;
    await new Promise((r) => setTimeout(r, downMs));
    await this.broker.start();
    await this.recorder.connectWithin(10000);
    this.relay.accepting = true;
  }

  /** Resets every connection between Node-RED and the broker (TCP RST both ways). */
  resetConnections(): number {
    this.faults.resets++;
    return this.relay.reset();
  }

  /** Changes the gateway's password at the broker and reloads it: Node-RED is refused from now on. */
  revokeAuth(): void {
    const user = this.options.platform === 'cumulocity' ? `${TENANT}/${GATEWAY_USER}` : GATEWAY_USER;
    this.broker.setPassword(user, 'revoked-password');
    this.faults.authRevoked++;
  }

  restoreAuth(): void {
    const user = this.options.platform === 'cumulocity' ? `${TENANT}/${GATEWAY_USER}` : GATEWAY_USER;
    this.broker.setPassword(user, GATEWAY_PASSWORD);
  }

  /** Resident memory of the Node-RED process now, bytes. */
  rss(): number {
    return rss(this.red);
  }

  /** Node-RED's memory after a full garbage collection: what it really holds on to. */
  async memory(): Promise<{ rss: number; heapUsed: number }> {
    const heapUsed = await collectGarbage(this.inspectPort);
    return { rss: rss(this.red), heapUsed };
  }

  answers(): Promise<boolean> {
    return answers(this.red);
  }

  async dispose(): Promise<void> {
    await this.recorder?.end();
    await this.red?.dispose();
    await this.relay?.stop();
    await this.broker.dispose();
  }
}
