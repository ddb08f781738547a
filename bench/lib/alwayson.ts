import { fork, type ChildProcess } from 'child_process';
import { performance } from 'perf_hooks';
import { BaseType, MessageCode, unwrapVariant, type RequestMessage } from '../../lib/thingworx';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { devEUIs } from './load';
import { cpuMsOf, stopChild, ThreadMeter, track } from './procs';

/*
 * Our strict AlwaysOn test server (testkit/alwayson-server.ts) in a process of its own, so its CPU
 * is neither Node-RED's nor the load generator's: `AlwaysOnProcess` forks this very file, which starts
 * the server with N Things of our template and reports over IPC what a benchmark needs: each uplink it
 * stored (the FCntUp of its uplinkData, with the time it was stored), how many Things are bound, and
 * when the provisioning steps happened. Times cross the process boundary as wall-clock milliseconds
 * (performance.timeOrigin + performance.now()) and are handed to the caller on its own performance.now()
 * scale.
 */

export const APP_KEY = 'bench-thingworx-app-key';
export const TEMPLATE = 'ThingParkDeviceTemplate';

/** The template as resources/thingworx/ThingParkDeviceTemplate.xml defines it. */
const TEMPLATE_PROPERTIES = {
  uplinkData: 'JSON',
  downlink: 'JSON',
  downlinkStatus: 'JSON',
  LrrRSSI: 'NUMBER',
  LrrSNR: 'NUMBER',
};

/** When the provisioning steps were seen by the server (ms, the caller's performance.now()). */
export interface ProvisioningMarks {
  /** First AUTH accepted. */
  authAt?: number;
  /** First and last QueryImplementingThingsOptimized page answered. */
  listFirstAt?: number;
  listLastAt?: number;
  /** First BIND, and the BIND that made every Thing bound. */
  bindFirstAt?: number;
  boundAllAt?: number;
}

export interface AlwaysOnStats {
  things: number;
  boundCount: number;
  /** UpdateSubscribedPropertyValues calls stored, and refused. */
  updates: number;
  refused: number;
  bindMessages: number;
  /** Bytes on the wire (TCP) since the server started: from the edges, to the edges. */
  wireIn: number;
  wireOut: number;
  /** Open connections that negotiated permessage-deflate, of all open connections. */
  compressed: number;
  connections: number;
  violations: string[];
  marks: ProvisioningMarks;
}

/** The template's properties, as the connector reads them (GetInstancePropertyDefinitions). */
export function templateProperties(): Map<string, string> {
  return new Map(Object.entries(TEMPLATE_PROPERTIES));
}

type Command = { id: number } & ({ op: 'setup'; things: number } | { op: 'stats' } | { op: 'resetMarks' });

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string }
  | { event: 'delivered'; data: number[] };

const wall = () => performance.timeOrigin + performance.now();

export class AlwaysOnProcess {
  port = 0;
  /** Called for every uplink stored: its FCntUp, and when (ms, performance.now()). */
  onDelivered?: (fCnt: number, at: number) => void;
  private proc?: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private err = '';

  constructor(private readonly things: number) {}

  get pid(): number {
    if (!this.proc?.pid) throw new Error('AlwaysOn server process is not running');
    return this.proc.pid;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/Thingworx/WS`;
  }

  async start(): Promise<this> {
    const proc = fork(__filename, [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: (process.env.BENCH_ALWAYSON_ARGS ?? '').split(' ').filter(Boolean),
    });
    track(proc);
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-8192)));
    proc.on('message', (m: Reply) => this.onMessage(m));
    proc.once('exit', (code, signal) => {
      for (const p of this.pending.values())
        p.reject(new Error(`AlwaysOn server exited (${code ?? signal}): ${this.err.trim()}`));
      this.pending.clear();
    });
    this.port = (await this.call({ op: 'setup', things: this.things })) as number;
    return this;
  }

  stats(): Promise<AlwaysOnStats> {
    return this.call({ op: 'stats' }).then((v) => {
      const s = v as AlwaysOnStats;
      const local = (t?: number) => (t === undefined ? undefined : t - performance.timeOrigin);
      const m = s.marks;
      s.marks = {
        authAt: local(m.authAt),
        listFirstAt: local(m.listFirstAt),
        listLastAt: local(m.listLastAt),
        bindFirstAt: local(m.bindFirstAt),
        boundAllAt: local(m.boundAllAt),
      };
      return s;
    });
  }

  /** Forgets the provisioning marks (before a deploy whose provisioning is timed). */
  async resetMarks(): Promise<void> {
    await this.call({ op: 'resetMarks' });
  }

  cpuMs(): number {
    return cpuMsOf(this.pid);
  }

  threadMeter(): ThreadMeter {
    return new ThreadMeter(this.pid);
  }

  async dispose(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    await stopChild(proc, 3000);
  }

  private call(command: Record<string, unknown>): Promise<unknown> {
    const proc = this.proc;
    if (!proc?.connected) return Promise.reject(new Error('AlwaysOn server process is not running'));
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      proc.send({ ...command, id });
    });
  }

  private onMessage(m: Reply): void {
    if ('event' in m) {
      const cb = this.onDelivered;
      if (!cb) return;
      for (let i = 0; i < m.data.length; i += 2) cb(m.data[i], m.data[i + 1] - performance.timeOrigin);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error));
  }
}

// ---- the server process ----------------------------------------------------------------------------

/** The FCntUp inside an uplinkData JSON text, or -1. */
function fCntOfJson(text: string): number {
  const at = text.indexOf('"FCntUp":');
  if (at < 0) return -1;
  const m = /^\s*(\d+)/.exec(text.slice(at + 9, at + 40));
  return m ? Number(m[1]) : -1;
}

function uplinkFCnt(msg: RequestMessage): number {
  const values = msg.body.params?.rows[0]?.values;
  if (!values || values.baseType !== BaseType.INFOTABLE) return -1;
  for (const row of values.value.rows) {
    if (row.name?.value !== 'uplinkData' || !row.value) continue;
    const v = unwrapVariant(row.value);
    return typeof v.value === 'string' ? fCntOfJson(v.value) : -1;
  }
  return -1;
}

function serve(): void {
  let server: AlwaysOnTestServer | undefined;
  let target = 0;
  let marks: ProvisioningMarks = {};
  let updates = 0;
  let refused = 0;
  let bindMessages = 0;
  let batch: number[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  const send = (m: Reply) => process.send!(m);
  const flush = () => {
    flushTimer = undefined;
    if (batch.length === 0) return;
    send({ event: 'delivered', data: batch });
    batch = [];
  };

  const setup = async (things: number): Promise<number> => {
    // Only the last few messages are kept: the log is for tests, not for 100 000 Things.
    const s = new AlwaysOnTestServer({ appKey: APP_KEY, logLimit: 16 });
    s.addTemplate(TEMPLATE, TEMPLATE_PROPERTIES);
    s.addThings(devEUIs(things), TEMPLATE);
    target = things;
    s.on('authenticated', () => (marks.authAt ??= wall()));
    s.on('bind', () => {
      bindMessages++;
      marks.bindFirstAt ??= wall();
      if (marks.boundAllAt === undefined && s.boundCount >= target) marks.boundAllAt = wall();
    });
    s.on('request', (_conn: number, msg: RequestMessage, code: number) => {
      const name = msg.body.characteristicName;
      if (name === 'UpdateSubscribedPropertyValues') {
        if (code !== MessageCode.SUCCESS) {
          refused++;
          return;
        }
        updates++;
        batch.push(uplinkFCnt(msg), wall());
        flushTimer ??= setTimeout(flush, 5);
      } else if (name === 'QueryImplementingThingsOptimized') {
        marks.listFirstAt ??= wall();
        marks.listLastAt = wall();
      }
    });
    await s.start();
    server = s;
    return s.port;
  };

  process.on('message', (c: Command) => {
    const run = async (): Promise<unknown> => {
      switch (c.op) {
        case 'setup':
          return setup(c.things);
        case 'resetMarks':
          marks = {};
          return null;
        case 'stats':
          return {
            things: server?.things.size ?? 0,
            boundCount: server?.boundCount ?? 0,
            updates,
            refused,
            bindMessages,
            wireIn: server?.wireBytes().in ?? 0,
            wireOut: server?.wireBytes().out ?? 0,
            compressed: (server?.connectionIds ?? []).filter((c) =>
              /permessage-deflate/.test(server?.extensionsOf(c) ?? ''),
            ).length,
            connections: server?.connectionIds.length ?? 0,
            violations: server?.violations.slice(0, 20) ?? [],
            marks,
          } satisfies AlwaysOnStats;
      }
    };
    run().then(
      (value) => send({ id: c.id, ok: true, value }),
      (e: unknown) => send({ id: c.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  // The bench went away: so does its server.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => {
    void (server ? server.close() : Promise.resolve()).finally(() => process.exit(0));
  });
}

if (require.main === module && process.send) serve();
