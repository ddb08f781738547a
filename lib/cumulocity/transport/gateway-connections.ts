/**
 * The MQTT connections of the gateway identities. Cumulocity binds an MQTT connection to the device named
 * by its client id, and `s/us/<child>` only reaches children of that device, so each identity in use
 * (`<id>`, `<id>-2`…, see mapping/device-registration.ts) has its own MqttConnection (same user, client
 * id = the identity). Identity 0 always runs and its state is the connections' state; the others start
 * when they get their first child.
 *
 * On every connect an identity publishes its startup lines first and takes data only once they are
 * acknowledged; then the lines that may follow at leisure (the `114` refresh of its children).
 */
import { EventEmitter } from 'events';
import type { BackoffOptions } from '../../connection/backoff';
import type { ConnectionState } from '../../connection/platform-client';
import { MqttConnection, NotConnectedError } from '../../mqtt/mqtt-connection';
import { gatewayIdentity } from '../mapping/device-registration';
import type { Publish } from '../mapping/smartrest';

export const NOTIFICATIONS_TOPIC = 'devicecontrol/notifications';
export const SMARTREST_DOWN_TOPIC = 's/ds';
/** Platform diagnostics: SmartREST errors and JSON-over-MQTT errors. */
export const ERROR_TOPICS = ['s/e', 'error'] as const;

/** How long a delivery for a gateway identity still connecting waits before it is retried later. */
const READY_WAIT_MS = 20000;
const STARTUP_RETRY_MS = 5000;
const REFRESH_BATCH = 100;

/** What the operation side needs to know of the identity a message came in on. */
export interface IdentitySession {
  readonly index: number;
  readonly clientId: string;
  /** When the current connection came up. */
  readonly connectedAt: number;
}

export interface GatewayConnectionsOptions {
  url: string;
  username: string;
  password?: string;
  tls?: Record<string, unknown>;
  gatewayId: string;
  keepalive?: number;
  connectTimeoutMs?: number;
  actionTimeoutMs?: number;
  backoff?: BackoffOptions;
  now: () => number;
  /** Published first on every connect; the identity takes data once they are acknowledged. */
  startup: (index: number) => Publish[];
  /** Published after the startup lines, in batches (lost ones go again on the next connect). */
  afterStartup: (index: number) => Publish[];
  /** Published every `everyMs` while an identity is connected (first after `everyMs`), e.g. heartbeats. */
  periodic?: { everyMs: number; lines: (index: number) => Publish[] }[];
  /** MQTT last will, on every identity's connection. */
  will?: Publish;
  /** Every message on the subscribed topics (what it throws goes nowhere: catch it). */
  onMessage: (identity: IdentitySession, topic: string, payload: Buffer) => void;
}

interface Identity extends IdentitySession {
  mqtt: MqttConnection;
  ready: boolean;
  /** Counts connections, so work of an older connection stops. */
  session: number;
  connectedAt: number;
  waiters: Set<(ok: boolean) => void>;
  timers: NodeJS.Timeout[];
}

/** Emits `state` (ConnectionState, lastError?) for identity 0 and `error` (Error) for any identity. */
export class GatewayConnections extends EventEmitter {
  private readonly identities = new Map<number, Identity>();
  private started = false;
  private current: ConnectionState = 'disconnected';

  constructor(private readonly options: GatewayConnectionsOptions) {
    super();
    this.identity(0);
  }

  get state(): ConnectionState {
    return this.current;
  }

  get lastError(): Error | undefined {
    for (const identity of this.identities.values())
      if (identity.mqtt.lastError) return identity.mqtt.lastError;
    return undefined;
  }

  get reconnects(): number {
    let total = 0;
    for (const identity of this.identities.values()) total += identity.mqtt.reconnects;
    return total;
  }

  /** Client ids of the gateway identities in use, in order. */
  get clientIds(): string[] {
    return [...this.identities.values()].sort((a, b) => a.index - b.index).map((i) => i.clientId);
  }

  /** Starts identity 0 and these others. */
  start(indices: Iterable<number>): void {
    if (this.started) return;
    this.started = true;
    for (const index of indices) this.identity(index);
    for (const identity of this.identities.values()) identity.mqtt.start();
    this.updateState();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.identities.values()].map((identity) => identity.mqtt.stop()));
    for (const identity of this.identities.values()) this.setNotReady(identity);
    this.updateState();
  }

  /** Publishes in order (QoS 1) on an identity's connection, once it is ready; starts it if new. */
  async publishAll(gateway: number, publishes: readonly Publish[]): Promise<void> {
    const identity = this.identity(gateway);
    await this.waitReady(identity);
    await Promise.all(publishes.map((p) => identity.mqtt.publish(p.topic, p.payload, 1)));
  }

  private identity(index: number): Identity {
    const existing = this.identities.get(index);
    if (existing) return existing;
    const { url, username, password, tls, keepalive, connectTimeoutMs, actionTimeoutMs, backoff, will } =
      this.options;
    const clientId = gatewayIdentity(this.options.gatewayId, index);
    const mqtt = new MqttConnection({
      url,
      clientId,
      username,
      password,
      tls,
      will: will ? { topic: will.topic, payload: will.payload } : undefined,
      keepalive,
      connectTimeoutMs,
      actionTimeoutMs,
      backoff,
    });
    const identity: Identity = {
      index,
      clientId,
      mqtt,
      ready: false,
      session: 0,
      connectedAt: 0,
      waiters: new Set(),
      timers: [],
    };
    this.identities.set(index, identity);
    mqtt.on('state', (state: ConnectionState) => this.onConnectionState(identity, state));
    mqtt.on('error', (err: Error) =>
      this.emit('error', index === 0 ? err : new Error(`gateway ${clientId}: ${err.message}`)),
    );
    // Cumulocity advises against staying subscribed to s/e ("purely designed to support the development
    // of clients", mqtt-bundle/implementation.md, "Debugging"). We keep it: an unattended gateway has no
    // other way to learn that data it sent was refused after its PUBACK, nor that the tenant is too old
    // for templates 201 and 504-506 (the fallback in cumulocity-client.ts). It carries only errors, so it
    // costs traffic only when something is wrong.
    for (const topic of [NOTIFICATIONS_TOPIC, SMARTREST_DOWN_TOPIC, ...ERROR_TOPICS]) {
      mqtt.subscribe(topic, (t, payload) => this.options.onMessage(identity, t, payload));
    }
    if (this.started) mqtt.start();
    return identity;
  }

  private onConnectionState(identity: Identity, state: ConnectionState): void {
    if (state === 'connected') {
      identity.session++;
      identity.connectedAt = this.options.now();
      void this.startSession(identity, identity.session);
    } else {
      this.setNotReady(identity);
    }
    this.updateState();
  }

  private async startSession(identity: Identity, session: number): Promise<void> {
    const current = () => identity.session === session && identity.mqtt.state === 'connected';
    const startup = this.options.startup(identity.index);
    for (;;) {
      try {
        for (const p of startup) await identity.mqtt.publish(p.topic, p.payload, 1);
        break;
      } catch {
        if (!current()) return;
        await new Promise((resolve) => setTimeout(resolve, STARTUP_RETRY_MS).unref());
        if (!current()) return;
      }
    }
    if (!current()) return;
    identity.ready = true;
    for (const waiter of identity.waiters) waiter(true);
    identity.waiters.clear();
    this.updateState();
    for (const { everyMs, lines } of this.options.periodic ?? []) {
      const timer = setInterval(() => {
        if (!current()) return;
        for (const p of lines(identity.index))
          identity.mqtt.publish(p.topic, p.payload, 1).catch(() => undefined); // the next one comes
      }, everyMs);
      timer.unref();
      identity.timers.push(timer);
    }
    const refresh = this.options.afterStartup(identity.index);
    for (let i = 0; i < refresh.length && current(); i += REFRESH_BATCH) {
      const batch = refresh.slice(i, i + REFRESH_BATCH);
      try {
        await Promise.all(batch.map((p) => identity.mqtt.publish(p.topic, p.payload, 1)));
      } catch {
        return; // the next connection sends them again
      }
    }
  }

  private setNotReady(identity: Identity): void {
    identity.ready = false;
    for (const timer of identity.timers) clearInterval(timer);
    identity.timers.length = 0;
    for (const waiter of identity.waiters) waiter(false);
    identity.waiters.clear();
  }

  private waitReady(identity: Identity): Promise<void> {
    if (identity.ready) return Promise.resolve();
    if (!this.started || identity.mqtt.state === 'disconnected')
      return Promise.reject(new NotConnectedError());
    return new Promise((resolve, reject) => {
      const waiter = (ok: boolean) => {
        clearTimeout(timer);
        if (ok) resolve();
        else reject(new NotConnectedError());
      };
      const timer = setTimeout(() => {
        identity.waiters.delete(waiter);
        reject(new NotConnectedError());
      }, READY_WAIT_MS);
      identity.waiters.add(waiter);
    });
  }

  /** The state is the first identity's: it carries the gateway itself. */
  private updateState(): void {
    const primary = this.identities.get(0)!;
    const state: ConnectionState = primary.ready
      ? 'connected'
      : !this.started || primary.mqtt.state === 'disconnected'
        ? 'disconnected'
        : 'connecting';
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state, this.lastError);
  }
}
