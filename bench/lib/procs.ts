import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { freePort, hasMosquitto } from '../../testkit/broker';
import { repoRoot } from '../../testkit/paths';
import { GatewayMemory, gatewayMemoryFromEnv } from './gateway-memory';

/*
 * The processes a benchmark starts: Node-RED (from the dev dependencies, this package symlinked into a
 * user directory of its own, as test/helpers/node-red-process.ts does, plus what a benchmark needs:
 * the pid, node flags, RSS and CPU readings) and mosquitto (as testkit/broker.ts, with the
 * broker's queue limits raised so the broker is never what limits a figure). Every child and temp
 * directory is registered here and removed when the bench process exits, however it exits.
 */

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const child of children) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping the processes it started`);
      process.exit(130);
    });
  }
}

/** Registers a child process to be killed when the bench exits. */
export function track(child: ChildProcess): void {
  installExitHandlers();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

function tempDir(prefix: string): string {
  installExitHandlers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the child exited. */
export async function stopChild(child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---- /proc readings ------------------------------------------------------------------------------

const CLK_TCK = 100;

function procStatus(pid: number, field: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** Resident set size in bytes. */
export function rssOf(pid: number): number {
  return procStatus(pid, 'VmRSS');
}

/** Peak resident set size in bytes since start or the last `resetPeakRss`. */
export function peakRssOf(pid: number): number {
  return procStatus(pid, 'VmHWM');
}

/** Resets VmHWM (Linux ≥ 4.0); false when not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU time of a process, ms. */
export function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/**
 * Scheduler statistics of a process's main thread (the JavaScript thread), ms: time on a CPU and time
 * runnable but waiting for one. Waiting time says the machine was short of CPU (other processes).
 */
export function schedOf(pid: number): { runMs: number; waitMs: number } {
  const [run, wait] = fs
    .readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
    .trim()
    .split(' ')
    .map(Number);
  return { runMs: run / 1e6, waitMs: wait / 1e6 };
}

/** Main-thread shares of a wall-clock interval: on CPU, and runnable but waiting for a CPU. */
export class ThreadMeter {
  private readonly start: { runMs: number; waitMs: number };
  private readonly t0 = Date.now();

  constructor(private readonly pid: number) {
    this.start = schedOf(pid);
  }

  read(): { busy: number; starved: number } {
    const end = schedOf(this.pid);
    const wall = Math.max(1, Date.now() - this.t0);
    return { busy: (end.runMs - this.start.runMs) / wall, starved: (end.waitMs - this.start.waitMs) / wall };
  }
}

/** Established TCP connections to 127.0.0.1:`port` (from /proc/net/tcp), e.g. clients of a broker. */
export function connectionsTo(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f.length > 3 && f[2].endsWith(hex) && f[3] === '01';
    }).length;
}

/** Bytes of the regular files under a directory. */
export function diskUse(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += diskUse(full);
    else if (entry.isFile()) total += fs.statSync(full).size;
  }
  return total;
}

// ---- mosquitto ---------------------------------------------------------------------------------

/**
 * Broker limits for benchmarks: mosquitto's defaults (20 QoS 1 messages in flight per client, 1000
 * queued, the rest dropped) would drop messages to a slow subscriber and cap every figure at the
 * broker; the figures measure Node-RED, not them.
 */
export const BENCH_BROKER_LIMITS = ['max_inflight_messages 1000', 'max_queued_messages 1000000'];

export class Broker {
  port = 0;
  log = '';
  private proc?: ChildProcess;
  private readonly dir = tempDir('bench-mosquitto-');

  constructor(private readonly extra: string[] = BENCH_BROKER_LIMITS) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null;
  }

  /** Reserves the port without starting (the broker is down until `start`). */
  async reserve(): Promise<this> {
    if (!this.port) this.port = await freePort();
    return this;
  }

  async start(): Promise<this> {
    if (!hasMosquitto) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
    await this.reserve();
    fs.chmodSync(this.dir, 0o755);
    const conf = [
      `listener ${this.port} 127.0.0.1`,
      'persistence false',
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...this.extra,
    ];
    const confFile = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(confFile, conf.join('\n') + '\n');
    const proc = spawn('mosquitto', ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    track(proc);
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8192)));
    const end = Date.now() + 5000;
    while (!(await canConnect(this.port))) {
      if (Date.now() > end || proc.exitCode !== null)
        throw new Error(`mosquitto did not listen on ${this.port}: ${this.log.trim()}`);
      await delay(30);
    }
    return this;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    await stopChild(proc, 2000);
  }

  async dispose(): Promise<void> {
    await this.stop();
    removeTempDir(this.dir);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// ---- Node-RED ----------------------------------------------------------------------------------

export interface NodeRedOptions {
  /** For messages. */
  name: string;
  flows: unknown[];
  /** flows_cred.json, unencrypted (node id → credentials). */
  credentials?: Record<string, unknown>;
  /** Install this package in the user directory (default true). */
  withPackage?: boolean;
  /** Extra settings.js entries (JSON). */
  settings?: Record<string, unknown>;
  /** Flags for the node running Node-RED, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export class NodeRed {
  readonly userDir: string;
  port = 0;
  private out = '';
  private proc?: ChildProcess;
  /** BENCH_GATEWAY_MEMORY: the memory cgroup it runs in. */
  private cgroup?: GatewayMemory;

  constructor(private readonly options: NodeRedOptions) {
    this.userDir = tempDir('bench-nr-');
    if (options.withPackage !== false) {
      const link = path.join(this.userDir, 'node_modules', '@thingpark-edge', 'node-red-connectors');
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(repoRoot, link, 'dir');
    }
    fs.writeFileSync(path.join(this.userDir, 'flows.json'), JSON.stringify(options.flows));
    if (options.credentials) {
      fs.writeFileSync(path.join(this.userDir, 'flows_cred.json'), JSON.stringify(options.credentials));
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    if (!this.proc?.pid) throw new Error(`${this.options.name}: Node-RED is not running`);
    return this.proc.pid;
  }

  /** The last part of Node-RED's console output. */
  get output(): string {
    return this.out;
  }

  /** Where a platform connection config node keeps its durable queue. */
  queueDir(configId: string): string {
    return path.join(this.userDir, 'thingpark-queues', configId.replace(/[^A-Za-z0-9_.-]/g, '_'));
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    const settings = path.join(this.userDir, 'settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = ${JSON.stringify(
        {
          uiHost: '127.0.0.1',
          uiPort: this.port,
          flowFile: 'flows.json',
          credentialSecret: false,
          telemetry: { enabled: false },
          diagnostics: { enabled: false },
          logging: { console: { level: 'warn' } },
          ...this.options.settings,
        },
        null,
        2,
      )};\n`,
    );
    // BENCH_NODE_ARGS: extra flags for every Node-RED (e.g. --trace-gc); BENCH_NODE_LOG_DIR: keep their output.
    const extraArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const args = [
      ...extraArgs,
      ...(this.options.nodeArgs ?? []),
      require.resolve('node-red/red.js'),
      '-u',
      this.userDir,
      '-s',
      settings,
    ];
    const gateway = gatewayMemoryFromEnv();
    if (gateway !== undefined) this.cgroup ??= GatewayMemory.create(gateway);
    const [command, commandArgs] = this.cgroup
      ? this.cgroup.wrap(process.execPath, args)
      : [process.execPath, args];
    const proc = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.userDir });
    track(proc);
    this.proc = proc;
    const logDir = process.env.BENCH_NODE_LOG_DIR;
    const log = logDir
      ? fs.createWriteStream(path.join(logDir, `${this.options.name.replace(/\W+/g, '-')}-${proc.pid}.log`))
      : undefined;
    const append = (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-32768);
      log?.write(d);
    };
    proc.once('exit', () => log?.end());
    proc.stdout!.on('data', append);
    proc.stderr!.on('data', append);
    const end = Date.now() + 60000;
    for (;;) {
      try {
        if ((await fetch(`${this.url}/flows`, { signal: AbortSignal.timeout(2000) })).ok) return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > end || proc.exitCode !== null) {
        throw new Error(`${this.options.name}: Node-RED did not start:\n${this.out}`);
      }
      await delay(100);
    }
  }

  /** Full deploy through the admin API (credentials may go inline in the config nodes). */
  async deploy(flows: unknown[]): Promise<void> {
    const res = await fetch(`${this.url}/flows`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Node-RED-API-Version': 'v1',
        'Node-RED-Deployment-Type': 'full',
      },
      body: JSON.stringify(flows),
      signal: AbortSignal.timeout(30000),
    });
    if (!res.ok) throw new Error(`${this.options.name}: deploy: HTTP ${res.status} ${await res.text()}`);
  }

  rss(): number {
    return rssOf(this.pid);
  }

  cpuMs(): number {
    return cpuMsOf(this.pid);
  }

  /** Starts measuring the main thread's CPU and wait shares. */
  threadMeter(): ThreadMeter {
    return new ThreadMeter(this.pid);
  }

  /** Graceful stop (flows closed, profiles written), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15000): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    await stopChild(proc, timeoutMs);
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.cgroup?.remove();
    this.cgroup = undefined;
    removeTempDir(this.userDir);
  }
}

/** Runs `fn` with the resources it creates, disposing them all afterwards, even on failure. */
export async function using<T>(
  fn: (own: <R extends { dispose(): Promise<void> }>(r: R) => R) => Promise<T>,
): Promise<T> {
  const owned: Array<{ dispose(): Promise<void> }> = [];
  try {
    return await fn((r) => {
      owned.push(r);
      return r;
    });
  } finally {
    for (const r of owned.reverse()) await r.dispose().catch(() => undefined);
  }
}
