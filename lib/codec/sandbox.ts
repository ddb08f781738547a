import * as path from 'path';
import { Worker } from 'worker_threads';

/** Heap of a codec's worker: a codec that needs more is stopped and its message fails. */
export const HEAP_LIMIT_MB = 64;
export const DEFAULT_TIMEOUT_MS = 50;
/** How long past its bound a looping call may run before its worker is ended. */
const WATCHDOG_MARGIN_MS = 100;

export type CodecFunction = 'decodeUplink' | 'encodeDownlink' | 'decodeDownlink' | 'extractPoints';

interface Pending {
  id: number;
  fn: CodecFunction;
  input: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class CodecError extends Error {}

/**
 * One codec, loaded once in its own worker thread (bounded heap) inside a bare node:vm context
 * (bounded time per call). Calls are queued in order; a codec that loops is cut by the vm timeout,
 * one that exhausts its heap kills its worker: that call fails, a fresh worker takes the others.
 */
export class CodecSandbox {
  private worker: Worker | undefined;
  private ready: Promise<string[]> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private watchdog: NodeJS.Timeout | undefined;
  private outbox: Pending[] = [];
  private progress = new Float64Array(new SharedArrayBuffer(16));

  constructor(
    private readonly code: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /** The functions the codec defines; rejects when the code does not load. */
  functions(): Promise<string[]> {
    return this.start();
  }

  call(fn: CodecFunction, input: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new CodecError('codec closed'));
    const text = JSON.stringify(input);
    return new Promise((resolve, reject) => {
      const p: Pending = { id: this.nextId++, fn, input: text, resolve, reject };
      this.pending.set(p.id, p);
      this.start().then(
        () => this.post(p),
        (err: Error) => {
          this.pending.delete(p.id);
          reject(err);
        },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const p of this.pending.values()) p.reject(new CodecError('codec closed'));
    this.pending.clear();
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  /** Calls made in the same turn of the event loop go to the worker in one message. */
  private post(p: Pending): void {
    this.outbox.push(p);
    if (this.outbox.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.outbox.filter((p) => this.pending.has(p.id));
    this.outbox = [];
    if (!this.worker || batch.length === 0) return;
    this.worker.postMessage(batch.map((p) => ({ id: p.id, fn: p.fn, input: p.input })));
    this.arm();
  }

  /** Reads the worker's progress: a call running past its bound (a loop) ends the worker. */
  private arm(): void {
    if (this.watchdog) return;
    const every = Math.max(10, Math.min(100, this.timeoutMs / 2));
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        return;
      }
      const running = this.progress[0];
      if (running && Date.now() - this.progress[1] > this.timeoutMs + WATCHDOG_MARGIN_MS) {
        this.crash(new CodecError(`codec stopped: still running after ${this.timeoutMs} ms`), running);
      }
    }, every);
    this.watchdog.unref();
  }

  private start(): Promise<string[]> {
    if (this.ready) return this.ready;
    this.progress = new Float64Array(new SharedArrayBuffer(16));
    const worker = new Worker(path.join(__dirname, 'sandbox-worker.js'), {
      workerData: { code: this.code, timeout: this.timeoutMs, progress: this.progress.buffer },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
      env: {},
    });
    this.worker = worker;
    this.ready = new Promise<string[]>((resolve, reject) => {
      let loaded = false;
      type Answer = { ready?: boolean; error?: string; functions?: string[]; id?: number; result?: string };
      worker.on('message', (answers: Answer[]) => {
        if (this.worker !== worker) return;
        for (const m of answers) {
          if (m.ready) {
            loaded = true;
            if (m.error !== undefined) reject(new CodecError(`codec does not load: ${m.error}`));
            else resolve(m.functions ?? []);
            continue;
          }
          const p = this.pending.get(m.id!);
          if (!p) continue;
          this.pending.delete(p.id);
          if (m.error !== undefined) p.reject(new CodecError(m.error));
          else p.resolve(JSON.parse(m.result!));
        }
      });
      worker.on('error', (err: Error & { code?: string }) => {
        const why =
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `codec stopped: more than ${HEAP_LIMIT_MB} MB of memory`
            : `codec stopped: ${err.message}`;
        if (!loaded) reject(new CodecError(why));
        if (this.worker === worker) this.crash(new CodecError(why), this.progress[0]);
      });
      worker.on('exit', () => {
        if (!loaded) reject(new CodecError('codec stopped while loading'));
        if (this.worker === worker && !this.closed)
          this.crash(new CodecError('codec stopped'), this.progress[0]);
      });
    });
    this.ready.catch(() => undefined);
    return this.ready;
  }

  /**
   * The call that was running fails; the others (codecs are pure: answers lost with the worker
   * are computed again) go to a fresh worker.
   */
  private crash(err: Error, runningId: number): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    this.outbox = [];
    if (w) void w.terminate();
    const culprit = this.pending.get(runningId) ?? this.pending.values().next().value;
    if (culprit) {
      this.pending.delete(culprit.id);
      culprit.reject(err);
    }
    const rest = [...this.pending.values()];
    if (this.closed || rest.length === 0) return;
    this.start().then(
      () => rest.forEach((p) => this.post(p)),
      (e: Error) =>
        rest.forEach((p) => {
          this.pending.delete(p.id);
          p.reject(e);
        }),
    );
  }
}
