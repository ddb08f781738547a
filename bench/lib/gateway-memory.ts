import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/*
 * BENCH_GATEWAY_MEMORY (e.g. `1g`, `512m`): every Node-RED runs in a memory cgroup of that size, as
 * if on a gateway with that much memory. Node.js reads the limit (process.constrainedMemory()) and
 * sizes V8's heap from it, as it does from the memory of a machine: on this 24 GB machine V8 takes a
 * 4 GB heap limit and lets garbage pile up far longer than it would on a gateway. Needs root and a
 * cgroup v1 or v2 memory controller; the run stops with the reason otherwise.
 */

const MB = 1024 * 1024;

/** `1g`, `512m`, `800000000`: bytes. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`BENCH_GATEWAY_MEMORY: not a size: ${text} (e.g. 1g, 512m)`);
  const unit = { '': 1, k: 1024, m: MB, g: 1024 * MB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
}

interface Hierarchy {
  /** The directory of this process's own memory cgroup. */
  dir: string;
  limitFile: 'memory.limit_in_bytes' | 'memory.max';
}

function ownMemoryCgroup(): Hierarchy {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.map((l) => l.split(':')).find((p) => p.length >= 3 && p[1].split(',').includes('memory'));
  if (v1 && fs.existsSync('/sys/fs/cgroup/memory')) {
    return {
      dir: path.join('/sys/fs/cgroup/memory', v1.slice(2).join(':')),
      limitFile: 'memory.limit_in_bytes',
    };
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2 && fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return { dir: path.join('/sys/fs/cgroup', v2.slice(3)), limitFile: 'memory.max' };
  }
  throw new Error('BENCH_GATEWAY_MEMORY: no cgroup memory controller here');
}

let made = 0;

/** One Node-RED's memory cgroup: create, run a command in it, remove once its processes are gone. */
export class GatewayMemory {
  private constructor(
    readonly bytes: number,
    private readonly dir: string,
  ) {}

  static create(bytes: number): GatewayMemory {
    const own = ownMemoryCgroup();
    const dir = path.join(own.dir, `thingpark-bench-${process.pid}-${++made}`);
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, own.limitFile), String(bytes));
    } catch (err) {
      throw new Error(
        `BENCH_GATEWAY_MEMORY: cannot make a memory cgroup in ${own.dir}: ${(err as Error).message}`,
      );
    }
    const cg = new GatewayMemory(bytes, dir);
    const seen = cg.seenByNode();
    if (seen !== bytes) {
      cg.remove();
      throw new Error(`BENCH_GATEWAY_MEMORY: Node.js in the cgroup sees ${seen} bytes, not ${bytes}`);
    }
    return cg;
  }

  /** `command args` wrapped so that it runs inside the cgroup (same pid: the shell execs it). */
  wrap(command: string, args: string[]): [string, string[]] {
    return [
      '/bin/sh',
      ['-c', 'echo $$ > "$0" && exec "$@"', path.join(this.dir, 'cgroup.procs'), command, ...args],
    ];
  }

  /** What Node.js finds as its memory in the cgroup (process.constrainedMemory()). */
  seenByNode(): number {
    const [cmd, args] = this.wrap(process.execPath, ['-p', 'process.constrainedMemory()']);
    return Number(spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim());
  }

  /** Removes the cgroup (its processes must have exited; the kernel may take a moment to agree). */
  remove(): void {
    for (let i = 0; i < 50; i++) {
      try {
        fs.rmdirSync(this.dir);
        return;
      } catch {
        spawnSync('sleep', ['0.1']);
      }
    }
  }
}

/** The size asked for by BENCH_GATEWAY_MEMORY, if any. */
export function gatewayMemoryFromEnv(): number | undefined {
  const text = process.env.BENCH_GATEWAY_MEMORY;
  return text ? parseMemory(text) : undefined;
}
