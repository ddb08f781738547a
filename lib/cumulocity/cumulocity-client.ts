/**
 * Cumulocity over Core MQTT as a gateway with one child device per ThingPark device (reference/cumulocity.md).
 *
 * - Identities: children are spread over gateway identities `<id>`, `<id>-2`… (at most `maxChildren`
 *   each, see device-registration.ts). Cumulocity binds an MQTT connection to the device named by its
 *   client id, and `s/us/<child>` only reaches children of that device, so each identity in use has its
 *   own MqttConnection (same user, client id = the identity). Identity 0 always runs and its state is
 *   the client's state; the others start when they get their first child.
 * - On every connect an identity sends `100,<name>,<type>` + `117,<minutes>`, then `114` for each of
 *   its children. A child is registered (`101` on `s/us`, then `110`/`111`, `114`, `117` on
 *   `s/us/<child>`) before its first data, once: the durable ChildRegistry remembers it.
 * - Operations from `devicecontrol/notifications` (JSON, with ids) and `s/ds` (`511`, no id) become
 *   'downlink' events with a fresh CorrelationID kept in the durable OperationStore. Status lines go
 *   through `options.enqueue` (the connection's durable queue, keyed by DevEUI, so a `504` is always
 *   published before the `506` of the sent report that follows it): `504/505/506,<id>` for JSON
 *   operations, `501/502/503,c8y_Command` (oldest operation of that type) for `s/ds` ones.
 * - What the platform reports on `s/e` and `error` (a message it could not take, after its PUBACK: it names no
 *   message, so nothing can be sent again) is a 'platform-error' event (topic, text) for the user to see.
 * - Cumulocity may deliver one c8y_Command on both topics. A JSON operation and a `511` naming the same
 *   device and text within PAIRING_WINDOW_MS are taken as one operation (in either order), so it is
 *   executed once; ids already handed to a flow are remembered across restarts, and a `511` matching an
 *   operation handed before the current connection is taken as a replay.
 */
import { EventEmitter } from 'events';
import * as path from 'path';
import type { BackoffOptions } from '../connection/backoff';
import type { ConnectionState, PlatformClient, PlatformDownlink } from '../connection/platform-client';
import { ack, permanent, retryable, type DeliveryResult, type QueueEntry } from '../delivery';
import { CHECK_TIMEOUT_MS, type CheckResult } from '../connection/connection-check';
import { checkMqttConnection } from '../mqtt/mqtt-check';
import { MqttConnection, NotConnectedError } from '../mqtt/mqtt-connection';
import { newCorrelationId, thingparkTime, type DownlinkRequest } from '../thingpark/mapping/downlink';
import { ChildRegistry } from './child-registry';
import {
  assertGatewayId,
  childDeviceFromDocument,
  childRegistration,
  DEFAULT_CHILD_INTERVAL_MINUTES,
  DEFAULT_GATEWAY_INTERVAL_MINUTES,
  DEFAULT_GATEWAY_TYPE,
  DEFAULT_MAX_CHILDREN,
  devEUIFromChildId,
  gatewayDisplayName,
  gatewayIdentity,
  gatewayStartup,
  supportedOperationsRefresh,
} from './device-registration';
import { CumulocityError, OperationError } from './errors';
import { mapDocument, type MapResult } from './mapper';
import { OperationStore, type OperationRecord } from './operation-store';
import {
  COMMAND_FRAGMENT,
  OperationDedupe,
  oldestOperationExecuting,
  oldestOperationFailed,
  oldestOperationSuccessful,
  operationExecuting,
  operationFailed,
  operationSuccessful,
  parseOperationNotifications,
  parseSmartRestOperations,
  toDownlinkRequest,
  type C8yOperation,
} from './operations';
import { smartRestTopic, type Publish } from './smartrest';

export const CUMULOCITY_PORT = 8883;
export const DEFAULT_OPERATION_TIMEOUT_MS = 60 * 60 * 1000;
/** How long a JSON operation and a `511` for the same device and text count as one operation. */
export const PAIRING_WINDOW_MS = 30000;
/** Root key of the status messages this client queues for itself (never a ThingPark document type). */
export const STATUS_ROOT = 'c8y_OperationStatus';
export const NOTIFICATIONS_TOPIC = 'devicecontrol/notifications';
export const SMARTREST_DOWN_TOPIC = 's/ds';
/** Platform diagnostics: SmartREST errors and JSON-over-MQTT errors. */
export const ERROR_TOPICS = ['s/e', 'error'] as const;

const CHILD_ID_RE = /^[0-9a-f]{16}$/;
const SMARTREST_TOKEN = 'smartrest:';
/** How long a delivery for a gateway identity still connecting waits before it is retried later. */
const READY_WAIT_MS = 20000;
const STARTUP_RETRY_MS = 5000;
const REFRESH_BATCH = 100;

/** A queued message: a ThingPark document with its root key, or one of our operation status messages. */
export type CumulocityBody = Record<string, unknown>;

export interface OperationStatusMessage {
  /** Gateway identity (index) whose connection publishes it. */
  gateway: number;
  publishes: Publish[];
}

/** `origin.ref` of a downlink made from an operation. */
export interface CumulocityOperationRef {
  /** Absent for `s/ds` operations. */
  operationId?: string;
  childId: string;
  correlationId: string;
}

/** What `downlink out` reports (the fields used here). */
export interface DownlinkOutcome {
  status: 'queued' | 'rejected' | 'error';
  reason?: string;
  CorrelationID?: string;
}

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

export interface CumulocityOptions {
  host: string;
  port?: number;
  /** Plain MQTT instead of TLS: only for local test brokers. */
  insecure?: boolean;
  tls?: Record<string, unknown>;
  tenantId: string;
  username: string;
  password?: string;
  /** External id (`c8y_Serial`) and MQTT client id of the first gateway identity. */
  gatewayId: string;
  gatewayName?: string;
  gatewayType?: string;
  /** `117` of the gateway identities, minutes. */
  requiredIntervalMinutes?: number;
  /** `117` of the children, minutes. */
  childIntervalMinutes?: number;
  maxChildren?: number;
  /** Close an operation SUCCESSFUL on the sent report (default) or as soon as ThingPark queued it. */
  successOn?: 'sent' | 'queued';
  operationTimeoutMs?: number;
  /** Where the child registry and the operation store live; undefined keeps them in memory. */
  stateDir?: string;
  /** Durable path for status messages (the connection's queue); default: published at once. */
  enqueue?: (key: string, body: CumulocityBody) => Promise<void>;
  keepalive?: number;
  connectTimeoutMs?: number;
  actionTimeoutMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
}

interface Identity {
  index: number;
  clientId: string;
  mqtt: MqttConnection;
  ready: boolean;
  /** Counts connections, so work of an older connection stops. */
  session: number;
  /** When the current connection came up. */
  connectedAt: number;
  waiters: Set<(ok: boolean) => void>;
}

interface CommandNote {
  externalId: string;
  text: string;
  at: number;
  paired: boolean;
  /** For `s/ds` notes: the record made for it. */
  correlationId?: string;
}

export class CumulocityClient extends EventEmitter implements PlatformClient<CumulocityBody> {
  readonly registry: ChildRegistry;
  readonly operations: OperationStore;
  /** Warnings from loading the stored state (the config node logs them). */
  readonly loadWarnings: string[] = [];
  private readonly identities = new Map<number, Identity>();
  private readonly dedupe = new OperationDedupe(10000);
  private readonly registering = new Map<string, Promise<{ gateway: number; saved: Promise<void> }>>();
  private readonly jsonNotes: CommandNote[] = [];
  private readonly smartRestNotes: CommandNote[] = [];
  private readonly url: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private started = false;
  private current: ConnectionState = 'disconnected';
  private timeoutTimer?: NodeJS.Timeout;

  constructor(private readonly options: CumulocityOptions) {
    super();
    assertGatewayId(options.gatewayId);
    this.url = cumulocityBrokerUrl(options.host, options.port, options.insecure);
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    const file = (name: string) => (options.stateDir ? path.join(options.stateDir, name) : undefined);
    this.registry = new ChildRegistry({
      file: file('children.json'),
      gatewayId: options.gatewayId,
      maxChildren: options.maxChildren ?? DEFAULT_MAX_CHILDREN,
    });
    this.operations = new OperationStore({ file: file('operations.json') });
    for (const warning of [this.registry.load(), this.operations.load()]) {
      if (warning) this.loadWarnings.push(warning);
    }
    for (const id of this.operations.handledIds()) this.dedupe.seen(id);
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
  get gatewayIds(): string[] {
    return [...this.identities.values()].sort((a, b) => a.index - b.index).map((i) => i.clientId);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const index of this.registry.gatewayIndices()) this.identity(index);
    for (const identity of this.identities.values()) identity.mqtt.start();
    this.updateState();
    this.scheduleTimeouts();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    await Promise.all([...this.identities.values()].map((identity) => identity.mqtt.stop()));
    for (const identity of this.identities.values()) this.setNotReady(identity);
    this.updateState();
    await Promise.all([this.registry.flush(), this.operations.flush()]);
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Uplink side                                                                                   */
  /* ---------------------------------------------------------------------------------------------- */

  async deliver(entry: QueueEntry<CumulocityBody>): Promise<DeliveryResult> {
    try {
      const status = statusMessageOf(entry.body);
      if (status) {
        await this.publishAll(status.gateway, status.publishes);
        return ack();
      }
      const result = mapDocument(entry.body, { operationFor: (cid) => this.operationToken(cid) });
      if (result.operation) return await this.deliverReport(result);
      if (result.publishes.length === 0) return ack();
      const child = result.childId ? await this.ensureChild(result.childId, entry.body) : { gateway: 0 };
      // Acknowledged once the registry, if just written to, is on disk too.
      await Promise.all([this.publishAll(child.gateway, result.publishes), child.saved]);
      return ack();
    } catch (err) {
      // Bad input is refused for good; anything else (not connected, no PUBACK in time) is retried.
      if (err instanceof CumulocityError) return permanent(err);
      return retryable(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private operationToken(correlationId: string): string | undefined {
    const record = this.operations.get(correlationId);
    if (!record) return undefined;
    return record.operationId ?? `${SMARTREST_TOKEN}${record.correlationId}`;
  }

  /** DevEUI_downlink_Sent / _Rejected of an operation we know: its final status, then forget it. */
  private async deliverReport(result: MapResult): Promise<DeliveryResult> {
    const outcome = result.operation!;
    const record = this.operations.get(outcome.correlationId);
    if (!record) return ack();
    const publishes = record.operationId
      ? result.publishes
      : this.statusPublishes(record, [outcome.status], outcome.reason);
    await this.publishAll(record.gateway, publishes);
    this.operations.remove(record.correlationId);
    this.scheduleTimeouts();
    await this.operations.save();
    return ack();
  }

  /**
   * The identity of a child, registering it first when it is new; then `saved` settles once the
   * registry holding it is on disk.
   */
  private ensureChild(
    childId: string,
    document: CumulocityBody,
  ): Promise<{ gateway: number; saved?: Promise<void> }> {
    if (this.registry.isRegistered(childId))
      return Promise.resolve({ gateway: this.registry.gatewayOf(childId)! });
    let pending = this.registering.get(childId);
    if (!pending) {
      pending = this.registerChild(childId, document).finally(() => this.registering.delete(childId));
      this.registering.set(childId, pending);
    }
    return pending;
  }

  private async registerChild(
    childId: string,
    document: CumulocityBody,
  ): Promise<{ gateway: number; saved: Promise<void> }> {
    const body = Object.values(document)[0] as Record<string, unknown>;
    const device = childDeviceFromDocument(body);
    device.requiredIntervalMinutes = this.options.childIntervalMinutes ?? DEFAULT_CHILD_INTERVAL_MINUTES;
    const { gatewayIndex } = this.registry.allocate(childId);
    await this.publishAll(gatewayIndex, childRegistration(device));
    // The data need not wait for the disk: the registry only spares registering again after a crash.
    const saved = this.registry.markRegistered(childId, device.connectivity === 'CELLULAR');
    saved.catch(() => undefined); // handled by the deliveries awaiting it
    return { gateway: gatewayIndex, saved };
  }

  private async publishAll(gateway: number, publishes: readonly Publish[]): Promise<void> {
    const identity = this.identity(gateway);
    await this.waitReady(identity);
    await Promise.all(publishes.map((p) => identity.mqtt.publish(p.topic, p.payload, 1)));
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Gateway identities and their connections                                                       */
  /* ---------------------------------------------------------------------------------------------- */

  private identity(index: number): Identity {
    const existing = this.identities.get(index);
    if (existing) return existing;
    const { tenantId, username, password, tls, keepalive, connectTimeoutMs, actionTimeoutMs, backoff } =
      this.options;
    const clientId = gatewayIdentity(this.options.gatewayId, index);
    const mqtt = new MqttConnection({
      url: this.url,
      clientId,
      username: cumulocityMqttUser(tenantId, username),
      password,
      tls,
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
    };
    this.identities.set(index, identity);
    mqtt.on('state', (state: ConnectionState) => this.onConnectionState(identity, state));
    mqtt.on('error', (err: Error) =>
      this.emit('error', index === 0 ? err : new Error(`gateway ${clientId}: ${err.message}`)),
    );
    mqtt.subscribe(NOTIFICATIONS_TOPIC, (topic, payload) =>
      this.guarded(topic, () => this.onNotifications(identity, payload)),
    );
    mqtt.subscribe(SMARTREST_DOWN_TOPIC, (topic, payload) =>
      this.guarded(topic, () => this.onSmartRest(identity, payload)),
    );
    for (const topic of ERROR_TOPICS) {
      mqtt.subscribe(topic, (t, payload) =>
        this.emit('platform-error', t, preview(payload.toString('utf8'))),
      );
    }
    if (this.started) mqtt.start();
    return identity;
  }

  private onConnectionState(identity: Identity, state: ConnectionState): void {
    if (state === 'connected') {
      identity.session++;
      identity.connectedAt = this.now();
      void this.startSession(identity, identity.session);
    } else {
      this.setNotReady(identity);
    }
    this.updateState();
  }

  /** `100` + `117` first; the identity takes data once they are acknowledged; then `114` for its children. */
  private async startSession(identity: Identity, session: number): Promise<void> {
    const current = () => identity.session === session && identity.mqtt.state === 'connected';
    const startup = gatewayStartup({
      name: gatewayDisplayName(this.options.gatewayName || this.options.gatewayId, identity.index),
      type: this.options.gatewayType || DEFAULT_GATEWAY_TYPE,
      requiredIntervalMinutes: this.options.requiredIntervalMinutes ?? DEFAULT_GATEWAY_INTERVAL_MINUTES,
    });
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
    const refresh = supportedOperationsRefresh(this.registry.childrenOf(identity.index));
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

  /** The client's state is the first identity's: it carries the gateway itself. */
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

  /* ---------------------------------------------------------------------------------------------- */
  /* Operations                                                                                     */
  /* ---------------------------------------------------------------------------------------------- */

  /**
   * Runs an MQTT message handler: whatever it throws (a bug, since bad input is an OperationError) is reported like
   * an invalid operation, never thrown into the MQTT client, where it would end the process.
   */
  private guarded(topic: string, handle: () => void): void {
    try {
      handle();
    } catch (err) {
      this.emit(
        'downlink-error',
        new Error(`message on ${topic} not handled: ${(err as Error)?.message ?? err}`),
      );
    }
  }

  private onNotifications(identity: Identity, payload: Buffer): void {
    const parsed = parseOperationNotifications(payload);
    for (const err of parsed.errors) this.refuseOperation(identity, err);
    for (const operation of parsed.operations) this.onOperation(identity, operation);
  }

  private onSmartRest(identity: Identity, payload: Buffer): void {
    const parsed = parseSmartRestOperations(payload);
    for (const err of parsed.errors) this.emit('downlink-error', err);
    for (const operation of parsed.operations) this.onOperation(identity, operation);
  }

  private onOperation(identity: Identity, operation: C8yOperation): void {
    const owner = this.registry.gatewayOf(operation.externalId);
    // Another identity's child: its own connection handles it (only seen on a broker shared by all).
    if (owner !== undefined && owner !== identity.index) return;
    const now = this.now();
    this.pruneNotes(now);
    if (operation.id !== undefined) {
      const id = operation.id;
      const duplicate = this.dedupe.seen(id) || this.operations.wasHandled(id);
      const note = this.noteJsonCommand(operation, now);
      if (duplicate) return;
      if (operation.status && operation.status !== 'PENDING') {
        // Already EXECUTING, SUCCESSFUL or FAILED: never ours to start again.
        this.markHandled(id, now);
        void this.operations.save().catch((err: Error) => this.emit('warning', err));
        return;
      }
      if (note && this.adoptSmartRestTwin(note, id)) {
        this.markHandled(id, now);
        void this.operations.save().catch((err: Error) => this.emit('warning', err));
        return;
      }
    } else if (this.isSmartRestCopy(identity, operation, now)) {
      return;
    }

    let command: ReturnType<typeof toDownlinkRequest>;
    try {
      command = toDownlinkRequest(operation);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      this.refuseOperation(identity, err, operation);
      return;
    }
    const childId = operation.externalId;
    const request: DownlinkRequest = {
      devEUI: command.devEUI,
      connectivity: this.registry.isCellular(childId) ? 'CELLULAR' : 'LORAWAN',
      fPort: command.fPort,
      payloadHex: command.payloadHex,
      correlationId: newCorrelationId(),
    };
    if (command.confirmed !== undefined) request.confirmed = command.confirmed;
    const record: OperationRecord = {
      correlationId: request.correlationId,
      externalId: childId,
      gateway: owner ?? identity.index,
      createdAt: now,
      state: 'handed',
    };
    if (operation.id !== undefined) {
      record.operationId = operation.id;
      this.markHandled(operation.id, now);
    }
    if (operation.commandText !== undefined) record.text = operation.commandText;
    this.operations.add(record);
    if (operation.id === undefined && operation.commandText !== undefined) {
      this.smartRestNotes.push({
        externalId: childId,
        text: operation.commandText,
        at: now,
        paired: false,
        correlationId: record.correlationId,
      });
    }
    this.scheduleTimeouts();
    const ref: CumulocityOperationRef = { childId, correlationId: record.correlationId };
    if (operation.id !== undefined) ref.operationId = operation.id;
    const downlink: PlatformDownlink = { request, ref };
    // Stored before the flow sees it: a restart in between must not execute it twice.
    this.operations.save().then(
      () => this.emit('downlink', downlink),
      (err: Error) => {
        this.emit('warning', new Error(`operation store not written: ${err.message}`));
        this.emit('downlink', downlink);
      },
    );
  }

  private markHandled(id: string, now: number): void {
    this.dedupe.seen(id);
    this.operations.markHandled(id, now);
  }

  /** An operation that cannot become a downlink: FAILED with the reason, and a 'downlink-error'. */
  private refuseOperation(identity: Identity, err: OperationError, operation?: C8yOperation): void {
    const externalId = err.externalId ?? operation?.externalId;
    const gateway =
      (externalId !== undefined ? this.registry.gatewayOf(externalId) : undefined) ?? identity.index;
    if (err.operationId !== undefined) {
      this.markHandled(err.operationId, this.now());
      void this.operations.save().catch(() => undefined);
      this.sendStatus(
        { operationId: err.operationId, externalId: externalId ?? '', gateway, state: 'handed' },
        ['FAILED'],
        err.message,
      );
    } else if (operation?.origin === 's/ds' && externalId !== undefined) {
      this.sendStatus({ externalId, gateway, state: 'handed' }, ['FAILED'], err.message);
    }
    this.emit('downlink-error', err);
  }

  /** Remembers a JSON c8y_Command (new or replayed) so its `511` copy, if any, is dropped. */
  private noteJsonCommand(operation: C8yOperation, now: number): CommandNote | undefined {
    if (operation.commandText === undefined) return undefined;
    const note: CommandNote = {
      externalId: operation.externalId,
      text: operation.commandText,
      at: now,
      paired: false,
    };
    this.jsonNotes.push(note);
    return note;
  }

  /** A JSON operation whose `511` copy came first: the record made for the copy takes the operation's id. */
  private adoptSmartRestTwin(note: CommandNote, id: string): boolean {
    const twin = this.smartRestNotes.find(
      (n) => !n.paired && n.externalId === note.externalId && n.text === note.text,
    );
    if (!twin) return false;
    twin.paired = true;
    note.paired = true;
    const record = twin.correlationId ? this.operations.get(twin.correlationId) : undefined;
    // From here on its status goes by id (504/505/506), which is exact.
    if (record && record.operationId === undefined) record.operationId = id;
    return true;
  }

  /** A `511` that is the copy of a JSON operation, or a replay of one handed before this connection. */
  private isSmartRestCopy(identity: Identity, operation: C8yOperation, now: number): boolean {
    const text = operation.commandText ?? '';
    const twin = this.jsonNotes.find(
      (n) => !n.paired && n.externalId === operation.externalId && n.text === text,
    );
    if (twin) {
      twin.paired = true;
      return true;
    }
    const replayed = this.operations
      .records()
      .find(
        (r) =>
          r.operationId === undefined &&
          r.state === 'handed' &&
          r.externalId === operation.externalId &&
          r.text === text &&
          r.createdAt < identity.connectedAt,
      );
    if (replayed) {
      this.smartRestNotes.push({ externalId: operation.externalId, text, at: now, paired: false });
      return true;
    }
    return false;
  }

  private pruneNotes(now: number): void {
    for (const notes of [this.jsonNotes, this.smartRestNotes]) {
      while (notes.length > 0 && notes[0].at < now - PAIRING_WINDOW_MS) notes.shift();
    }
  }

  /**
   * What `downlink out` answered for a downlink made from an operation: queued → EXECUTING (or SUCCESSFUL
   * at once with successOn 'queued'); rejected / error → FAILED with the reason.
   */
  downlinkResult(ref: unknown, result: DownlinkOutcome): void {
    if (!isOperationRef(ref)) return;
    let record = this.operations.get(ref.correlationId);
    if (!record) return;
    const sentAs = result.CorrelationID;
    if (typeof sentAs === 'string' && sentAs !== '' && sentAs.toUpperCase() !== record.correlationId) {
      record = this.operations.rekey(record.correlationId, sentAs)!;
    }
    if (result.status === 'queued') {
      if (this.options.successOn === 'queued') {
        this.operations.remove(record.correlationId);
        this.sendStatus(record, ['EXECUTING', 'SUCCESSFUL']);
      } else {
        this.sendStatus(record, ['EXECUTING']);
        record.state = 'executing';
      }
    } else {
      this.operations.remove(record.correlationId);
      const reason = result.reason ?? result.status;
      this.sendStatus(
        record,
        ['FAILED'],
        result.status === 'rejected' ? `Refused by ThingPark: ${reason}` : `Downlink not sent: ${reason}`,
      );
    }
    this.scheduleTimeouts();
    void this.operations.save().catch((err: Error) => this.emit('warning', err));
  }

  /** Status lines for one operation, in one publish on its device's topic. */
  private statusPublishes(
    record: Pick<OperationRecord, 'operationId' | 'externalId' | 'state'>,
    statuses: readonly ('EXECUTING' | 'SUCCESSFUL' | 'FAILED')[],
    reason?: string,
  ): Publish[] {
    const lines: string[] = [];
    const id = record.operationId;
    if (id === undefined && record.state === 'handed' && statuses[0] !== 'EXECUTING') {
      // 502/503 act on the oldest EXECUTING operation: make it EXECUTING first.
      lines.push(oldestOperationExecuting(COMMAND_FRAGMENT));
    }
    for (const status of statuses) {
      if (status === 'EXECUTING') {
        lines.push(id !== undefined ? operationExecuting(id) : oldestOperationExecuting(COMMAND_FRAGMENT));
      } else if (status === 'SUCCESSFUL') {
        lines.push(id !== undefined ? operationSuccessful(id) : oldestOperationSuccessful(COMMAND_FRAGMENT));
      } else {
        const text = reason ?? 'failed';
        lines.push(
          id !== undefined ? operationFailed(id, text) : oldestOperationFailed(text, COMMAND_FRAGMENT),
        );
      }
    }
    const topic = CHILD_ID_RE.test(record.externalId) ? smartRestTopic(record.externalId) : smartRestTopic();
    return [{ topic, payload: lines.join('\n') }];
  }

  private sendStatus(
    record: Pick<OperationRecord, 'operationId' | 'externalId' | 'state' | 'gateway'>,
    statuses: readonly ('EXECUTING' | 'SUCCESSFUL' | 'FAILED')[],
    reason?: string,
  ): void {
    const message: OperationStatusMessage = {
      gateway: record.gateway,
      publishes: this.statusPublishes(record, statuses, reason),
    };
    const body: CumulocityBody = { [STATUS_ROOT]: message };
    const direct = () =>
      this.publishAll(message.gateway, message.publishes).catch((err: Error) =>
        this.emit('warning', new Error(`operation status not sent: ${err.message}`)),
      );
    const enqueue = this.options.enqueue;
    if (!enqueue) {
      void direct();
      return;
    }
    // Keyed by DevEUI like the device's documents: a 504 goes out before the sent report's 506.
    const key = devEUIFromChildId(record.externalId) ?? this.options.gatewayId;
    enqueue(key, body).catch(() => direct());
  }

  /** Operations without a final report after `operationTimeoutMs` become FAILED (timestamps are stored). */
  private scheduleTimeouts(): void {
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    if (!this.started) return;
    let next = Infinity;
    for (const record of this.operations.records()) next = Math.min(next, record.createdAt + this.timeoutMs);
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - this.now()), 2 ** 31 - 1);
    this.timeoutTimer = setTimeout(() => this.expireOperations(), delay);
    this.timeoutTimer.unref();
  }

  private expireOperations(): void {
    this.timeoutTimer = undefined;
    const now = this.now();
    let expired = 0;
    for (const record of this.operations.records()) {
      if (record.createdAt + this.timeoutMs > now) continue;
      this.operations.remove(record.correlationId);
      this.sendStatus(
        record,
        ['FAILED'],
        `No report from ThingPark within ${formatDuration(this.timeoutMs)}`,
      );
      expired++;
    }
    if (expired > 0) void this.operations.save().catch((err: Error) => this.emit('warning', err));
    this.scheduleTimeouts();
  }
}

/**
 * What `cumulocity out` queues for a document: the document itself, checked now by mapping it (bad input
 * is refused before it is queued), with its reception time as `Time` when it has none (so a message sent
 * after an outage keeps the time it happened). Undefined for documents with nothing for Cumulocity.
 * Throws MappingError.
 */
export function prepareDocument(
  document: Record<string, unknown>,
  now = new Date(),
): CumulocityBody | undefined {
  // Any CorrelationID stands for an operation here: whether it is one is known only at delivery.
  const result = mapDocument(document, { operationFor: () => 'check', now: () => now });
  if (result.publishes.length === 0) return undefined;
  const [type, body] = Object.entries(document)[0] as [string, Record<string, unknown>];
  if (body.Time !== undefined && body.Time !== null && body.Time !== '') return document;
  return { [type]: { ...body, Time: thingparkTime(now) } };
}

function statusMessageOf(body: CumulocityBody): OperationStatusMessage | undefined {
  const message = body[STATUS_ROOT] as OperationStatusMessage | undefined;
  if (!message || typeof message !== 'object' || !Array.isArray(message.publishes)) return undefined;
  return message;
}

function isOperationRef(value: unknown): value is CumulocityOperationRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CumulocityOperationRef).correlationId === 'string' &&
    typeof (value as CumulocityOperationRef).childId === 'string'
  );
}

function formatDuration(ms: number): string {
  if (ms % 3600000 === 0) return `${ms / 3600000} h`;
  if (ms % 60000 === 0) return `${ms / 60000} min`;
  return `${Math.round(ms / 1000)} s`;
}

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
