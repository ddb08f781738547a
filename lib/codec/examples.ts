import * as fs from 'fs';
import * as path from 'path';
import type { Codec } from './codec';
import { bytesToHex } from './format';

/** One example of an IoT Flow `examples/*.examples.json` file (uplinks checked; others reported skipped). */
export interface CodecExample {
  type?: string;
  description?: string;
  input: { bytes: string; fPort?: number; time?: string };
  output?: unknown;
  points?: unknown;
}

export interface ExampleOutcome {
  description: string;
  pass: boolean;
  skipped?: boolean;
  /** What differs: expected vs actual, or the codec's error. */
  difference?: string;
}

/** The examples of a driver package: every `examples/*.examples.json` under its folder. */
export function readExamples(dir: string): CodecExample[] {
  const folder = path.join(dir, 'examples');
  if (!fs.existsSync(folder)) return [];
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.examples.json'))
    .sort()
    .flatMap((f) => JSON.parse(fs.readFileSync(path.join(folder, f), 'utf8')) as CodecExample[]);
}

/** Runs each uplink example through the codec and compares payload (and points when given). */
export async function runExamples(codec: Codec, examples: CodecExample[]): Promise<ExampleOutcome[]> {
  const out: ExampleOutcome[] = [];
  for (const [i, ex] of examples.entries()) {
    const description = ex.description ?? `example ${i + 1}`;
    if (ex.type && ex.type !== 'uplink') {
      out.push({ description, pass: true, skipped: true });
      continue;
    }
    try {
      const hex = typeof ex.input.bytes === 'string' ? ex.input.bytes : bytesToHex(ex.input.bytes);
      const got = await codec.decodeUplink(hex, ex.input.fPort, ex.input.time);
      const diffs: string[] = [];
      if ('output' in ex && canonical(ex.output) !== canonical(got.payload)) {
        diffs.push(`payload: expected ${canonical(ex.output)}, got ${canonical(got.payload)}`);
      }
      if (ex.points !== undefined && canonical(ex.points) !== canonical(got.points)) {
        diffs.push(`points: expected ${canonical(ex.points)}, got ${canonical(got.points)}`);
      }
      out.push({
        description,
        pass: diffs.length === 0,
        ...(diffs.length ? { difference: diffs.join('; ') } : {}),
      });
    } catch (err) {
      out.push({ description, pass: false, difference: `error: ${(err as Error).message}` });
    }
  }
  return out;
}

/** JSON with keys sorted, so key order does not count as a difference. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}
