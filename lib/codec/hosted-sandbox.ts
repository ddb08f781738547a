import { fork, type ChildProcess } from 'child_process';
import * as path from 'path';
import type { HostAnswer, HostRequest } from './host-process';
import { CodecError, DEFAULT_TIMEOUT_MS, type CodecFunction } from './sandbox';

/** Heap of the codec host process (every codec's worker is bounded lower, sandbox.ts). */
export const HOST_HEAP_MB = 256;
const RESTART_MIN_MS = 50;
const RESTART_MAX_MS = 5000;

interface Request {
  id: number;
  sandbox: HostedSandbox;
  fn: CodecFunction | 'functions';
  input: unknown;
  /** In flight with others when a host died: sent again alone, so that a second death names it. */
  suspect: boolean;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * The child process every codec of this Node-RED runs in (host-process.ts), started with the first
 * codec and ended with the last. When it dies, the call that was running alone fails with the reason;
 * the calls that were in flight with others are sent again one at a time, so that only the culprit
 * fails; then a new host takes the rest. Deaths in a row wait longer before the next start.
 */
class CodecHost {
  private child: ChildProcess | undefined;
  private generation = 0;
  private readonly sandboxes = new Set<HostedSandbox>();
  private readonly inFlight = new Map<number, Request>();
  private waiting: Request[] = [];
  private outbox: HostRequest[] = [];
  private nextId = 1;
  private deaths = 0;
  /** Requests in flight with others when a host died, not yet answered. */
  private suspects = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private calmTimer: NodeJS.Timeout | undefined;

  /** The host's pid (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  add(sandbox: HostedSandbox): void {
    this.sandboxes.add(sandbox);
  }

  remove(sandbox: HostedSandbox): void {
    this.sandboxes.delete(sandbox);
    for (const r of [...this.inFlight.values(), ...this.waiting])
      if (r.sandbox === sandbox) {
        this.inFlight.delete(r.id);
        if (r.suspect) this.suspects--;
        r.reject(new CodecError('codec closed'));
      }
    this.waiting = this.waiting.filter((r) => r.sandbox !== sandbox);
    if (this.child && sandbox.openedIn === this.generation) this.post({ op: 'close', sid: sandbox.sid });
    if (this.sandboxes.size === 0) this.stop();
  }

  request(sandbox: HostedSandbox, fn: CodecFunction | 'functions', input: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, sandbox, fn, input, suspect: false, resolve, reject });
      this.pump();
    });
  }

  /** Sends what waits: all of it, or one at a time while suspects are being cleared. */
  private pump(): void {
    if (this.restartTimer || this.waiting.length === 0) return;
    const child = this.start();
    if (!child) return;
    let sent = 0;
    while (sent < this.waiting.length) {
      if (this.suspects > 0 && this.inFlight.size > 0) break;
      const r = this.waiting[sent++];
      if (r.sandbox.openedIn !== this.generation) {
        this.post({ op: 'open', sid: r.sandbox.sid, code: r.sandbox.code, timeout: r.sandbox.timeoutMs });
        r.sandbox.openedIn = this.generation;
      }
      this.inFlight.set(r.id, r);
      this.post({ op: 'call', id: r.id, sid: r.sandbox.sid, fn: r.fn, input: r.input });
    }
    this.waiting = sent === this.waiting.length ? [] : this.waiting.slice(sent);
  }

  private post(m: HostRequest): void {
    this.outbox.push(m);
    if (this.outbox.length === 1)
      setImmediate(() => {
        const batch = this.outbox;
        this.outbox = [];
        if (this.child?.connected) this.child.send(batch);
      });
  }

  private start(): ChildProcess | undefined {
    if (this.child) return this.child;
    if (this.sandboxes.size === 0) return undefined;
    const child = fork(path.join(__dirname, 'host-process.js'), [], {
      execArgv: [`--max-old-space-size=${HOST_HEAP_MB}`],
      env: {},
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    this.child = child;
    this.generation++;
    child.on('message', (answers: HostAnswer[]) => {
      if (this.child !== child) return;
      for (const a of answers) {
        const r = this.inFlight.get(a.id);
        if (!r) continue;
        this.inFlight.delete(a.id);
        if (r.suspect) this.suspects--;
        if (a.error !== undefined) r.reject(new CodecError(a.error));
        else r.resolve(r.fn === 'functions' ? a.functions : a.result);
      }
      this.pump();
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.died(code, signal);
    });
    child.on('error', () => undefined);
    return child;
  }

  private died(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.outbox = [];
    const lost = [...this.inFlight.values()];
    this.inFlight.clear();
    const why = `codec stopped: it brought its process down (${signal ?? `exit ${code}`}; more than ${HOST_HEAP_MB} MB at once, or a crash)`;
    if (lost.length === 1) {
      if (lost[0].suspect) this.suspects--;
      lost[0].reject(new CodecError(why));
    } else {
      for (const r of lost) {
        if (r.suspect) continue;
        r.suspect = true;
        this.suspects++;
      }
      this.waiting = [...lost, ...this.waiting];
    }
    this.deaths++;
    clearTimeout(this.calmTimer);
    this.calmTimer = undefined;
    const wait = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.deaths - 1));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      // Thirty seconds up without dying: the next death starts from the shortest wait again.
      this.calmTimer = setTimeout(() => (this.deaths = 0), 30000);
      this.calmTimer.unref();
      this.pump();
    }, wait);
  }

  private stop(): void {
    clearTimeout(this.restartTimer);
    clearTimeout(this.calmTimer);
    this.restartTimer = this.calmTimer = undefined;
    for (const r of this.waiting) r.reject(new CodecError('codec closed'));
    this.waiting = [];
    this.suspects = 0;
    const child = this.child;
    this.child = undefined;
    this.outbox = [];
    if (child?.connected) child.disconnect();
    if (child && child.exitCode === null) {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      kill.unref();
      child.once('exit', () => clearTimeout(kill));
    }
  }
}

const host = new CodecHost();
let nextSid = 1;

/** The codec host's pid, while it runs (tests). */
export function codecHostPid(): number | undefined {
  return host.pid;
}

/**
 * One codec, loaded once in the codec host process (its own worker thread and vm context there): the
 * same face as CodecSandbox, and a codec that takes the whole V8 down takes only the host with it.
 */
export class HostedSandbox {
  readonly sid = nextSid++;
  /** The host generation this codec was loaded in. */
  openedIn = 0;
  private closed = false;
  private loaded: Promise<string[]> | undefined;

  constructor(
    readonly code: string,
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    host.add(this);
  }

  /** The functions the codec defines; rejects when the code does not load. */
  functions(): Promise<string[]> {
    if (this.closed) return Promise.reject(new CodecError('codec closed'));
    this.loaded ??= host.request(this, 'functions', undefined) as Promise<string[]>;
    return this.loaded;
  }

  call(fn: CodecFunction, input: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new CodecError('codec closed'));
    return host.request(this, fn, input);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    host.remove(this);
  }
}
