/**
 * The durable map between Cumulocity operations handed to a flow and the CorrelationID of the downlink
 * made for each, plus the ids of operations already handed over (so an operation the platform replays
 * after a reconnect or a restart is not executed twice). Persisted as JSON:
 * `{"version":1,"pending":[OperationRecord…],"handled":[["<operation id>",<ms>]…]}`.
 */
import { JsonFile } from './json-file';

export interface OperationRecord {
  /** Upper case; the key of the map. */
  correlationId: string;
  /** The operation id (JSON notifications); absent for `s/ds` operations, which are closed with 501/502/503. */
  operationId?: string;
  /** The device the operation names (`externalSource.externalId` or the 511 serial). */
  externalId: string;
  /** The gateway identity (index) whose connection reports on it. */
  gateway: number;
  /** The command text, for recognising an `s/ds` operation delivered again. */
  text?: string;
  /** When it was handed to the flow (ms since the epoch): the timeout counts from here. */
  createdAt: number;
  /** `handed`: given to the flow; `executing`: ThingPark queued it (504 / 501 sent). */
  state: 'handed' | 'executing';
}

export interface OperationStoreOptions {
  file?: string;
  /** Handled operation ids remembered (oldest forgotten first; default 10 000). */
  handledMax?: number;
}

interface StoreFile {
  version: 1;
  pending: OperationRecord[];
  handled: [string, number][];
}

export const DEFAULT_HANDLED_MAX = 10000;

export class OperationStore {
  private readonly pending = new Map<string, OperationRecord>();
  /** Operation id → when it was handed over; insertion order = age. */
  private readonly handled = new Map<string, number>();
  private readonly store: JsonFile;
  private readonly handledMax: number;

  constructor(options: OperationStoreOptions = {}) {
    this.store = new JsonFile(options.file, () => this.snapshot());
    this.handledMax = options.handledMax ?? DEFAULT_HANDLED_MAX;
  }

  /** Loads the file; returns a warning text when part of it had to be ignored. */
  load(): string | undefined {
    const warnings: string[] = [];
    const raw = this.store.readSync((m) => warnings.push(m)) as Partial<StoreFile> | undefined;
    if (raw === undefined) return warnings[0];
    if (!raw || typeof raw !== 'object' || raw.version !== 1) {
      return 'the operation store has an unknown format; it was ignored';
    }
    for (const record of Array.isArray(raw.pending) ? raw.pending : []) {
      if (isRecord(record)) this.pending.set(record.correlationId.toUpperCase(), record);
      else warnings.push('an invalid pending operation was ignored');
    }
    for (const entry of Array.isArray(raw.handled) ? raw.handled : []) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number') {
        this.handled.set(entry[0], entry[1]);
      }
    }
    return warnings[0];
  }

  get(correlationId: string): OperationRecord | undefined {
    return this.pending.get(correlationId.toUpperCase());
  }

  add(record: OperationRecord): void {
    record.correlationId = record.correlationId.toUpperCase();
    this.pending.set(record.correlationId, record);
  }

  remove(correlationId: string): OperationRecord | undefined {
    const key = correlationId.toUpperCase();
    const record = this.pending.get(key);
    this.pending.delete(key);
    return record;
  }

  /** The flow sent the downlink under another CorrelationID: reports will carry that one. */
  rekey(correlationId: string, next: string): OperationRecord | undefined {
    const record = this.remove(correlationId);
    if (record) this.add({ ...record, correlationId: next });
    return record && this.get(next);
  }

  records(): OperationRecord[] {
    return [...this.pending.values()];
  }

  markHandled(operationId: string, at: number): void {
    this.handled.delete(operationId);
    this.handled.set(operationId, at);
    while (this.handled.size > this.handledMax)
      this.handled.delete(this.handled.keys().next().value as string);
  }

  wasHandled(operationId: string): boolean {
    return this.handled.has(operationId);
  }

  /** Handled ids, oldest first (to seed an in-memory dedupe). */
  handledIds(): string[] {
    return [...this.handled.keys()];
  }

  get size(): number {
    return this.pending.size;
  }

  save(): Promise<void> {
    return this.store.save();
  }

  /** Resolves once every save so far is on disk. */
  flush(): Promise<void> {
    return this.store.flush();
  }

  private snapshot(): StoreFile {
    return { version: 1, pending: this.records(), handled: [...this.handled.entries()] };
  }
}

function isRecord(value: unknown): value is OperationRecord {
  if (!value || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.correlationId === 'string' &&
    r.correlationId !== '' &&
    (r.operationId === undefined || typeof r.operationId === 'string') &&
    typeof r.externalId === 'string' &&
    typeof r.gateway === 'number' &&
    Number.isInteger(r.gateway) &&
    r.gateway >= 0 &&
    typeof r.createdAt === 'number' &&
    (r.state === 'handed' || r.state === 'executing')
  );
}
