/**
 * The operation desk: Cumulocity operations in, downlinks out, and every operation's status back.
 *
 * - Operations from `devicecontrol/notifications` (JSON, with ids) and `s/ds` (`511`, no id) become
 *   'downlink' events with a fresh CorrelationID kept in the durable OperationStore. Status lines go
 *   through `options.enqueue` (the connection's durable queue, keyed by DevEUI, so a `504` is always
 *   published before the `506` of the sent report that follows it): `504/505/506,<id>` for JSON
 *   operations, `501/502/503,c8y_Command` (oldest operation of that type) for `s/ds` ones.
 * - Cumulocity may deliver one c8y_Command on both topics. A JSON operation and a `511` naming the same
 *   device and text within PAIRING_WINDOW_MS are taken as one operation (in either order), so it is
 *   executed once; ids already handed to a flow are remembered across restarts, and a `511` matching an
 *   operation handed before the current connection is taken as a replay.
 * - Operations without a final report after the operation timeout become FAILED.
 *
 * Emits `downlink` (PlatformDownlink), `downlink-error` (Error), `warning` (Error) and `children`
 * (IdentitySession, child ids: a `106` answer).
 */
import { EventEmitter } from 'events';
import type { PlatformDownlink } from '../connection/platform-client';
import { newCorrelationId, type DownlinkRequest } from '../thingpark/mapping/downlink';
import { OperationError } from './errors';
import { devEUIFromChildId } from './mapping/device-registration';
import type { MapResult } from './mapping/mapper';
import {
  COMMAND_FRAGMENT,
  DOWNLINK_FRAGMENT,
  OperationDedupe,
  parseOperationNotifications,
  parseSmartRestOperations,
  toDownlinkRequest,
  type C8yOperation,
} from './mapping/operations';
import { statusPublishes, type OperationStatus, type StatusChange } from './mapping/operation-status';
import type { Publish } from './mapping/smartrest';
import {
  DEFAULT_OPERATION_TIMEOUT_MS,
  STATUS_ROOT,
  type CumulocityBody,
  type CumulocityOperationRef,
  type CumulocityOptions,
  type DownlinkOutcome,
  type OperationStatusMessage,
} from './options';
import type { ChildRegistry } from './state/child-registry';
import type { OperationRecord, OperationStore } from './state/operation-store';
import type { IdentitySession } from './transport/gateway-connections';

/** How long a JSON operation and a `511` for the same device and text count as one operation. */
export const PAIRING_WINDOW_MS = 30000;

const SMARTREST_TOKEN = 'smartrest:';

interface CommandNote {
  externalId: string;
  text: string;
  at: number;
  paired: boolean;
  /** For `s/ds` notes: the record made for it. */
  correlationId?: string;
}

export interface OperationDeskOptions extends Pick<
  CumulocityOptions,
  'gatewayId' | 'successOn' | 'operationTimeoutMs' | 'enqueue'
> {
  registry: ChildRegistry;
  operations: OperationStore;
  now: () => number;
  /** Publishes on a gateway identity's connection (status lines when there is no queue). */
  publish: (gateway: number, publishes: readonly Publish[]) => Promise<void>;
}

export class OperationDesk extends EventEmitter {
  private readonly registry: ChildRegistry;
  private readonly operations: OperationStore;
  private readonly dedupe = new OperationDedupe(10000);
  private readonly jsonNotes: CommandNote[] = [];
  private readonly smartRestNotes: CommandNote[] = [];
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private started = false;
  private legacy = false;
  private timeoutTimer?: NodeJS.Timeout;

  constructor(private readonly options: OperationDeskOptions) {
    super();
    this.registry = options.registry;
    this.operations = options.operations;
    this.now = options.now;
    this.timeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    for (const id of this.operations.handledIds()) this.dedupe.seen(id);
  }

  start(): void {
    this.started = true;
    this.scheduleTimeouts();
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
  }

  /** An operation message (`devicecontrol/notifications` or `s/ds`) that came in on `identity`. */
  onMessage(identity: IdentitySession, topic: string, payload: Buffer): void {
    this.guarded(topic, () =>
      topic === 's/ds' ? this.onSmartRest(identity, payload) : this.onNotifications(identity, payload),
    );
  }

  /** What a downlink report's CorrelationID stands for, for the mapper: an operation id or our token. */
  operationToken(correlationId: string): string | undefined {
    const record = this.operations.get(correlationId);
    if (!record) return undefined;
    return record.operationId ?? `${SMARTREST_TOKEN}${record.correlationId}`;
  }

  /** DevEUI_downlink_Sent / _Rejected of an operation we know: its final status, then forget it. */
  async closeByReport(result: MapResult): Promise<void> {
    const outcome = result.operation!;
    const record = this.operations.get(outcome.correlationId);
    if (!record) return;
    const change = this.change(record, [outcome.status], outcome.reason, outcome.result);
    await this.options.publish(record.gateway, statusPublishes(change, !this.legacy));
    this.operations.remove(record.correlationId);
    this.scheduleTimeouts();
    await this.operations.save();
  }

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

  private onNotifications(identity: IdentitySession, payload: Buffer): void {
    const parsed = parseOperationNotifications(payload);
    for (const err of parsed.errors) this.refuseOperation(identity, err);
    for (const operation of parsed.operations) this.onOperation(identity, operation);
  }

  private onSmartRest(identity: IdentitySession, payload: Buffer): void {
    const parsed = parseSmartRestOperations(payload);
    for (const err of parsed.errors) this.emit('downlink-error', err);
    for (const list of parsed.childLists ?? []) this.emit('children', identity, list);
    for (const operation of parsed.operations) this.onOperation(identity, operation);
  }

  private onOperation(identity: IdentitySession, operation: C8yOperation): void {
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
  private refuseOperation(identity: IdentitySession, err: OperationError, operation?: C8yOperation): void {
    const externalId = err.externalId ?? operation?.externalId;
    const gateway =
      (externalId !== undefined ? this.registry.gatewayOf(externalId) : undefined) ?? identity.index;
    if (err.operationId !== undefined) {
      this.markHandled(err.operationId, this.now());
      void this.operations.save().catch(() => undefined);
      this.sendStatus(
        {
          operationId: err.operationId,
          externalId: externalId ?? '',
          gateway,
          state: 'handed',
          text: operation?.commandText,
        },
        ['FAILED'],
        err.message,
      );
    } else if (operation?.origin === 's/ds' && externalId !== undefined) {
      const text = operation.commandText ?? '';
      this.sendStatus({ externalId, gateway, state: 'handed', text }, ['FAILED'], err.message);
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
  private isSmartRestCopy(identity: IdentitySession, operation: C8yOperation, now: number): boolean {
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
        this.sendStatus(record, ['EXECUTING', 'SUCCESSFUL'], undefined, 'queued by ThingPark');
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

  /** What an operation record's status change is (see mapping/operation-status.ts). */
  private change(
    record: Pick<OperationRecord, 'operationId' | 'externalId' | 'state' | 'text'>,
    statuses: OperationStatus[],
    reason?: string,
    result?: string,
  ): StatusChange {
    const change: StatusChange = {
      externalId: record.externalId,
      fragment: record.text !== undefined ? COMMAND_FRAGMENT : DOWNLINK_FRAGMENT,
      pending: record.state === 'handed',
      statuses,
    };
    if (record.operationId !== undefined) change.operationId = record.operationId;
    if (reason !== undefined) change.reason = reason;
    // Only the Shell (c8y_Command) shows a result.
    if (result !== undefined && record.text !== undefined) change.result = result;
    return change;
  }

  /** The lines of a status message, for the templates this tenant takes. */
  statusPublishesOf(message: OperationStatusMessage): Publish[] {
    if (!message.change) return message.publishes;
    return statusPublishes(message.change, !this.legacy);
  }

  /** The tenant refused 504-506 (older than Cumulocity 10.18): statuses by type (501-503) from now on. */
  useLegacyTemplates(): void {
    this.legacy = true;
  }

  private sendStatus(
    record: Pick<OperationRecord, 'operationId' | 'externalId' | 'state' | 'gateway' | 'text'>,
    statuses: OperationStatus[],
    reason?: string,
    result?: string,
  ): void {
    const change = this.change(record, statuses, reason, result);
    const message: OperationStatusMessage = {
      gateway: record.gateway,
      publishes: statusPublishes(change, !this.legacy),
      change,
    };
    const body: CumulocityBody = { [STATUS_ROOT]: message };
    const direct = () =>
      this.options
        .publish(message.gateway, this.statusPublishesOf(message))
        .catch((err: Error) => this.emit('warning', new Error(`operation status not sent: ${err.message}`)));
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

/** The status message a queue entry holds, if it is one. */
export function statusMessageOf(body: CumulocityBody): OperationStatusMessage | undefined {
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
