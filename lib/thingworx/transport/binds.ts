import { Backoff, type BackoffOptions } from '../../connection/backoff';
import { HEADER_SIZE } from '../alwayson/constants';
import { buildBindMessage } from '../alwayson/helpers';
import { encodeMessage, type BindGateway } from '../alwayson/messages';
import { AlwaysOnClientError } from './errors';
import { toClientError } from './requests';

function stringBytes(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return n + (n < 0x80 ? 1 : 4);
}

/** The one frame of a BIND / UNBIND; a name too long for one frame is refused (kind `encode`). */
export function bindFrame(
  names: string[],
  unbind: boolean,
  ids: { requestId: number; sessionId?: number },
  o: { gateway?: BindGateway; chunkSize: number },
): Buffer {
  const msg = buildBindMessage(names, { ...ids, gateway: o.gateway, unbind });
  const frame = encodeMessage(msg);
  if (frame.length > o.chunkSize) {
    const what = unbind ? 'UNBIND' : 'BIND';
    throw new AlwaysOnClientError('encode', `${what} of ${names[0]}: name too long for one frame`);
  }
  return frame;
}

export interface BindFailure {
  names: string[];
  error: AlwaysOnClientError;
}

/** What the batching needs from the connection. */
export interface BindLink {
  /** Whether the connection the batches started on is still the current one. */
  current(): boolean;
  /** Send one BIND/UNBIND of `names` and wait for its answer; rejects with the error of a refusal. */
  send(names: string[], unbind: boolean): Promise<void>;
}

/** Cut names into batches of at most `bindBatchSize` names that each fit one frame of `chunkSize` bytes. */
export function* bindBatches(
  names: readonly string[],
  o: { gateway?: BindGateway; chunkSize: number; bindBatchSize: number },
): Generator<string[]> {
  const gw = o.gateway;
  const fixed = HEADER_SIZE + 1 + (gw ? stringBytes(gw.name) + stringBytes(gw.type) : 0) + 2;
  let batch: string[] = [];
  let size = fixed;
  for (const n of names) {
    const b = stringBytes(n);
    if (fixed + b > o.chunkSize) {
      yield [n]; // too long for any frame: sent alone so the refusal names it
      continue;
    }
    if (batch.length >= o.bindBatchSize || size + b > o.chunkSize) {
      yield batch;
      batch = [];
      size = fixed;
    }
    batch.push(n);
    size += b;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Send BIND/UNBIND batches, `window` at a time; returns the failed batches, each whole (a batch the platform refuses
 * is not bisected: it is retried as one later). `onFailure` is told of each failed batch as it fails.
 */
export async function sendBindBatches(
  link: BindLink,
  batches: string[][],
  unbind: boolean,
  window: number,
  onFailure: (f: BindFailure) => void,
): Promise<BindFailure[]> {
  const failures: BindFailure[] = [];
  const queue = [...batches];
  const what = unbind ? 'UNBIND' : 'BIND';
  const worker = async (): Promise<void> => {
    for (;;) {
      const batch = queue.shift();
      if (!batch || !link.current()) return;
      let error: AlwaysOnClientError | undefined;
      try {
        await link.send(batch, unbind);
      } catch (e) {
        error = toClientError(e, what);
      }
      if (!error) continue;
      const failure = { names: batch, error };
      failures.push(failure);
      onFailure(failure);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, queue.length) }, worker));
  return failures;
}

/**
 * BIND batches the platform refused: their names are not bound, and each batch is sent again, whole, after a delay
 * that grows with each refusal (`Backoff`), until it is accepted, unbound, or the connection changes.
 */
export class RefusedBinds {
  private readonly names = new Map<string, AlwaysOnClientError>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly backoff: BackoffOptions) {}

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Whether none of `names` was refused before (so the refusal is news to report). */
  isNew(names: readonly string[]): boolean {
    return names.some((n) => !this.names.has(n));
  }

  /** Note a refused batch and retry it with `retry` (resolving true once accepted) after a growing delay. */
  add(names: string[], error: AlwaysOnClientError, retry: (names: string[]) => Promise<boolean>): void {
    for (const n of names) this.names.set(n, error);
    const backoff = new Backoff(this.backoff);
    const schedule = (): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const still = names.filter((n) => this.names.has(n));
        if (still.length === 0) return;
        void retry(still).then((ok) => {
          if (ok) for (const n of still) this.names.delete(n);
          else if (still.some((n) => this.names.has(n))) schedule();
        });
      }, backoff.next());
      this.timers.add(timer);
    };
    schedule();
  }

  delete(name: string): void {
    this.names.delete(name);
  }

  /** Forget every refusal and pending retry (a new connection binds everything again). */
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.names.clear();
  }
}
