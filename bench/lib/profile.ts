import * as fs from 'fs';

/*
 * Summary of a V8 CPU profile (node --cpu-prof): self time by where the code lives (our lib/ and
 * nodes/, each npm package, Node's internals, GC) and the hottest functions. Also a command:
 * `node dist/bench/lib/profile.js file.cpuprofile`.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** ms sampled while not idle. */
  busyMs: number;
  byArea: Array<{ area: string; ms: number; share: number }>;
  topFunctions: Array<{ fn: string; area: string; ms: number; share: number }>;
}

/** Where a frame's code lives: `ours: lib/delivery`, `pkg: mqtt`, `node: internal`, `(gc)`… */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg && !url.includes('/node_modules/@thingpark-edge/')) return `pkg: ${pkg[1]}`;
  const ours = /\/dist\/(lib|nodes)\/([^/]+)\//.exec(url);
  if (ours) return `ours: ${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; ms: number }>();
  let busy = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    if (area === '(idle)') continue;
    busy += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const file = url.split('/').slice(-1)[0];
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    const f = fns.get(key) ?? { area, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
  }
  const share = (ms: number) => (busy ? ms / busy : 0);
  return {
    file,
    busyMs: busy,
    byArea: [...areas].map(([area, ms]) => ({ area, ms, share: share(ms) })).sort((a, b) => b.ms - a.ms),
    topFunctions: [...fns]
      .map(([fn, f]) => ({ fn, area: f.area, ms: f.ms, share: share(f.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

export function formatProfile(s: ProfileSummary, areas = 15): string {
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)}%`;
  const lines = [`${s.file}: ${(s.busyMs / 1000).toFixed(1)} s busy`, '  self time by area:'];
  for (const a of s.byArea.slice(0, areas)) lines.push(`    ${pct(a.share)}  ${a.area}`);
  lines.push('  hottest functions (self):');
  for (const f of s.topFunctions) lines.push(`    ${pct(f.share)}  ${f.fn}  [${f.area}]`);
  return lines.join('\n');
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) console.log(formatProfile(summariseProfile(file)));
}
