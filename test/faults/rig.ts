import type { ChildProcess } from 'child_process';
import type { Mosquitto } from '../../testkit/broker';
import type { NodeRedProcess } from '../helpers/node-red-process';
import { consoleDebug, placed } from '../hostile/red-process';
import type { Ledger } from './ledger';
import { sleep } from './traffic';

export const AS_ID = 'faults.as';
export const AS_KEY = 'faults-as-key-5c1e';
export const UPLINK_PATH = '/faults/uplink';
export const ENTERPRISE = 'faults';

/**
 * The documented in-flight window (README "What is guaranteed": after a fault at most the messages
 * in flight are sent again): the queue's `maxInflight` default (lib/delivery), and the `perKeyInflight`
 * the WMW and Cumulocity connections set (nodes/wmw/wmw.ts, nodes/cumulocity/cumulocity.ts).
 */
export const MAX_INFLIGHT = 1000;
export const PER_DEVICE_INFLIGHT = 32;
/**
 * Sent again at most per fault: the window, plus the deletes of confirmed messages held for one larger
 * write (half the window: lib/delivery, README "Duplicates"), lost when Node-RED is killed.
 */
export const MAX_SENT_AGAIN = MAX_INFLIGHT + MAX_INFLIGHT / 2;

/**
 * How far Node-RED's memory may stay above its level before the faults once everything is delivered,
 * both measured after a full garbage collection. Generous: the V8 heap keeps some of what it grew to
 * under load (measured +2 MB) and glibc keeps freed arenas (RSS measured +8 MB); keeping the documents
 * that went through (thousands of ~1 KB documents and their retries) would still show.
 */
export const HEAP_MARGIN_BYTES = 12 * 1024 * 1024;
export const RSS_MARGIN_BYTES = 40 * 1024 * 1024;

/** A mulberry32 generator: the same seed gives the same fault schedule. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run (`FAULT_SEED` replays one), printed so a failure can be replayed. */
export function faultSeed(what: string): number {
  const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`      ${what}: fault seed ${seed} (FAULT_SEED=${seed} replays it)`);
  return seed;
}

/** `count` moments within [fromMs, toMs], at least `gapMs` apart, in order. */
export function faultTimes(
  random: () => number,
  count: number,
  fromMs: number,
  toMs: number,
  gapMs: number,
): number[] {
  const slack = toMs - fromMs - gapMs * (count - 1);
  if (slack < 0) throw new RangeError('not enough time for the faults');
  const offsets = Array.from({ length: count }, () => random() * slack).sort((a, b) => a - b);
  return offsets.map((o, i) => Math.round(fromMs + o + i * gapMs));
}

// ---- the broker --------------------------------------------------------------------------------

function processOf(broker: Mosquitto): ChildProcess | undefined {
  return (broker as unknown as { proc?: ChildProcess }).proc;
}

/** Ends mosquitto the hard way: what it held in memory and had not written out is gone. */
export async function killBroker(broker: Mosquitto): Promise<void> {
  const proc = processOf(broker);
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

/** Mosquitto settings for a recorder that must never be the one losing messages. */
export const RECORDER_BROKER_LIMITS = ['max_inflight_messages 0', 'max_queued_messages 0'];

// ---- the flows ---------------------------------------------------------------------------------

export interface FlowOptions {
  /** Where the platform connection goes (the relay). */
  platformPort: number;
  platform: 'wmw' | 'cumulocity';
  username?: string;
  password?: string;
  /** Settings of the ThingPark connection over the signed HTTP default (e.g. IoT Flow MQTT mode). */
  network?: Record<string, unknown>;
  /** The platform connection's MQTT client id (two instances must not share one). */
  platformClientId?: string;
}

/**
 * uplink in (HTTP, signed) → wmw out or cumulocity out, with a Catch and a Status node whose messages
 * Node-RED logs as `[debug:caught] CAUGHT <DevEUI> <FCntUp> <error>` and `[debug:status] STATUS …`.
 */
export function faultFlow(options: FlowOptions): {
  flows: Array<Record<string, unknown>>;
  credentials: Record<string, unknown>;
} {
  const { platformPort, platform } = options;
  const config =
    platform === 'wmw'
      ? {
          id: 'platform',
          type: 'thingpark-wmw',
          region: 'custom',
          hostName: `127.0.0.1:${platformPort}`,
          enterpriseId: ENTERPRISE,
          clientId: options.platformClientId ?? 'faults-gw',
          insecure: true,
          bufferMax: 100000,
          bufferPolicy: 'drop-oldest',
        }
      : {
          id: 'platform',
          type: 'thingpark-cumulocity',
          hostName: `127.0.0.1:${platformPort}`,
          tenantId: 't100',
          gatewayId: 'faults-gw',
          gatewayName: 'Faults',
          insecure: true,
          bufferMax: 100000,
          bufferPolicy: 'drop-oldest',
        };
  const flows = placed([
    { id: 'tab', type: 'tab', label: 'faults' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: AS_ID,
      maxTimeDeviation: 120,
      ...options.network,
    },
    config,
    { id: 'up', z: 'tab', type: 'thingpark-uplink-in', network: 'net', path: UPLINK_PATH, wires: [['out']] },
    {
      id: 'out',
      z: 'tab',
      type: platform === 'wmw' ? 'thingpark-wmw-out' : 'thingpark-cumulocity-out',
      [platform]: 'platform',
      wires: [[]],
    },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['fmtCatch']] },
    {
      id: 'fmtCatch',
      z: 'tab',
      type: 'function',
      func: [
        'const up = msg.payload && msg.payload.DevEUI_uplink;',
        "const which = up ? up.DevEUI + ' ' + up.FCntUp : '- -';",
        "msg.payload = 'CAUGHT ' + which + ' ' + (msg.error && msg.error.message);",
        'return msg;',
      ].join('\n'),
      outputs: 1,
      wires: [['caught']],
    },
    consoleDebug('caught', 'caught', 'payload'),
    { id: 'status', z: 'tab', type: 'status', scope: ['out'], wires: [['fmtStatus']] },
    {
      id: 'fmtStatus',
      z: 'tab',
      type: 'function',
      func: "msg.payload = 'STATUS ' + msg.status.fill + ' ' + msg.status.text;\nreturn msg;",
      outputs: 1,
      wires: [['statusLog']],
    },
    consoleDebug('statusLog', 'status', 'payload'),
  ] as Array<Record<string, unknown>>);
  const credentials: Record<string, unknown> = { net: { asKey: AS_KEY } };
  if (options.username) credentials.platform = { username: options.username, password: options.password };
  return { flows, credentials };
}

/** Node-RED settings for these flows: info logging, so the debug nodes' lines reach the output. */
export const FAULT_SETTINGS = { logging: { console: { level: 'info' } } };

/** The lines a debug node of `faultFlow` logged, from `fromChar` of the output on. */
export function debugLines(red: NodeRedProcess, name: 'caught' | 'status', fromChar = 0): string[] {
  return red.output
    .slice(fromChar)
    .split('\n')
    .filter((line) => line.includes(`[debug:${name}]`));
}

/** Puts the uplinks Node-RED refused with an error (Catch) in the ledger; returns the error texts. */
export function noteRefusals(red: NodeRedProcess, ledger: Ledger): string[] {
  const errors: string[] = [];
  for (const line of debugLines(red, 'caught')) {
    const m = /CAUGHT (\S+) (\S+) (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] !== '-') ledger.noteRefused(m[1], Number(m[2]));
    errors.push(m[3]);
  }
  return errors;
}

export async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(50);
  }
}
