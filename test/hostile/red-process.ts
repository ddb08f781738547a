import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import { NodeRedProcess } from '../helpers/node-red-process';

/** The child process of a NodeRedProcess (the helper keeps it private). */
export function childOf(red: NodeRedProcess): ChildProcess | undefined {
  return (red as unknown as { proc?: ChildProcess }).proc;
}

/** True while the process runs and its admin API answers within `ms`. */
export async function answers(red: NodeRedProcess, ms = 2000): Promise<boolean> {
  const child = childOf(red);
  if (!child || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    return (await fetch(`${red.url}/flows`, { signal: AbortSignal.timeout(ms) })).ok;
  } catch {
    return false;
  }
}

/** Resident memory of the process, in bytes (Linux). */
export function rss(red: NodeRedProcess): number {
  const pid = childOf(red)?.pid;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * Gives every node of a tab a position: Node-RED takes a node without x and y for a config node
 * (which then starts in another order and may be taken for a reference by name).
 */
export function placed<T extends Record<string, unknown>>(nodes: T[]): T[] {
  return nodes.map((n, i) => (n.z ? { x: 100 + 10 * i, y: 100 + 20 * i, ...n } : n));
}

/** A core debug node writing to Node-RED's log (console: true) what `complete` names. */
export function consoleDebug(id: string, name: string, complete = 'true', z = 'tab') {
  return {
    id,
    z,
    type: 'debug',
    name,
    active: true,
    tosidebar: false,
    console: true,
    tostatus: false,
    complete,
    targetType: complete === 'true' ? 'full' : 'msg',
    wires: [],
  };
}

/** How many lines the debug node `name` logged that contain `marker`. */
export function logged(red: NodeRedProcess, name: string, marker: string): number {
  return red.output.split('\n').filter((line) => line.includes(`[debug:${name}]`) && line.includes(marker))
    .length;
}

/** Makes sure the process runs: started again after a crash, killed and started again when stuck. */
export async function ensureRunning(red: NodeRedProcess): Promise<void> {
  if (await answers(red)) return;
  const child = childOf(red);
  if (child && child.exitCode === null && child.signalCode === null) await red.kill('SIGKILL');
  await red.start();
}
