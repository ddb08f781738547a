import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../testkit/paths';
import { figures } from './figures/index';
import type { ChartPoint } from './figures/http-ingest';
import { readConfig } from './lib/config';
import { gatewayMemoryFromEnv } from './lib/gateway-memory';
import { summarise, type BenchContext, type FigureResult, type MetricSummary } from './lib/figure';
import { lineChartSvg, type Series } from './lib/svg';

/*
 * `npm run bench`: runs every figure (BENCH_FIGURES to choose), prints a table, writes
 * bench/results/latest.json and the latency chart (bench/results/latency.svg, copied to
 * bench/latency.svg). See bench/README.md.
 */

interface FigureReport {
  id: string;
  title: string;
  seconds: number;
  /** 1-minute load average before and after: how busy the machine was (other processes included). */
  loadavg: [number, number];
  metrics: MetricSummary[];
  notes: string[];
  details: Record<string, unknown>;
  error?: string;
}

function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(reports: FigureReport[], runs: number): string {
  const rows: string[][] = [];
  const head = ['metric', `median of ${runs}`, 'min – max', 'goal', ''];
  const sections: Array<{ title: string; rows: string[][]; notes: string[] }> = [];
  for (const r of reports) {
    const section = {
      title: `${r.title}  (${r.seconds.toFixed(0)} s, load ${r.loadavg.map((l) => l.toFixed(1)).join('→')})`,
      rows: [] as string[][],
      notes: [...r.notes],
    };
    if (r.error) section.notes.unshift(`FAILED: ${r.error.split('\n')[0]}`);
    for (const m of r.metrics) {
      const digits = m.digits ?? (m.unit === '×' ? 2 : 0);
      const unit = m.unit === '×' ? '×' : ` ${m.unit}`;
      const row = [
        `  ${m.label}`,
        `${fmt(m.median, digits)}${unit}`,
        `${fmt(m.min, digits)} – ${fmt(m.max, digits)}`,
        m.goal ? `${m.goal.op === '>=' ? '≥' : '≤'} ${fmt(m.goal.value, m.unit === '×' ? 1 : 0)}${unit}` : '',
        m.pass === undefined ? '' : m.pass ? 'ok' : 'MISSED',
      ];
      section.rows.push(row);
      rows.push(row);
    }
    sections.push(section);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = '─'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out = [line(head), rule];
  for (const s of sections) {
    out.push(s.title);
    for (const r of s.rows) out.push(line(r));
    for (const n of s.notes) out.push(`    · ${n}`);
    out.push(rule);
  }
  return out.join('\n');
}

/** The latency chart of figure 1's results, or undefined without them. */
export function latencyChart(report: Pick<FigureReport, 'details'> | undefined): string | undefined {
  const chart = report?.details.chart as Record<'ours' | 'core', ChartPoint[]> | undefined;
  if (!chart || !chart.ours.length) return undefined;
  const colors = { ours: '#1f6fb4', core: '#e07b00' };
  const dashes = { p50: undefined, p90: '7 4', p99: '2 3' } as const;
  const series: Series[] = [];
  for (const side of ['ours', 'core'] as const) {
    for (const p of ['p50', 'p90', 'p99'] as const) {
      series.push({
        name: `${side === 'ours' ? 'ours' : 'core nodes'} ${p}`,
        color: colors[side],
        dash: dashes[p],
        points: chart[side].map((pt) => ({ x: pt.rate, y: pt[p] })),
      });
    }
  }
  return lineChartSvg(series, {
    title: 'HTTP ingest → platform broker: latency under rising load',
    subtitle: 'POST sent → message at the subscriber; median of runs per step; same offered rates for both',
    xLabel: 'offered load (uplinks/s)',
    yLabel: 'latency (ms, log scale)',
  });
}

function gitDescribe(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return undefined;
  }
}

/** `run.js --chart results.json`: draws the latency chart again from a results file (to stdout). */
function chartOnly(file: string): number {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { figures: FigureReport[] };
  const svg = latencyChart(json.figures.find((f) => f.id === 'http'));
  if (!svg) {
    console.error(`${file} has no figure 1 latency steps`);
    return 1;
  }
  process.stdout.write(svg);
  return 0;
}

async function main(): Promise<number> {
  const chartArg = process.argv.indexOf('--chart');
  if (chartArg > 0) return chartOnly(process.argv[chartArg + 1]);
  const config = readConfig();
  const resultsDir = path.join(repoRoot, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  // A profiled or partial run keeps its own files: latest.json and bench/latency.svg are a full run's.
  const label = process.env.BENCH_LABEL || (config.profile ? 'profile' : 'latest');
  const fullRun = !config.figures && !config.profile && !process.env.BENCH_NODE_ARGS;
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'nodes'))) {
    console.error(`bench: ${path.join(repoRoot, 'dist', 'nodes')} is missing: build first (npm run build)`);
    return 2;
  }
  const selected = config.figures ? figures.filter((f) => config.figures!.includes(f.id)) : figures;
  if (selected.length === 0) {
    console.error(`bench: BENCH_FIGURES matches none of ${figures.map((f) => f.id).join(', ')}`);
    return 2;
  }
  const ctx: BenchContext = { config, resultsDir, log: (m) => console.log(m) };
  const started = new Date();
  const gateway = gatewayMemoryFromEnv();
  console.log(
    `bench: ${selected.map((f) => f.id).join(', ')}; ${config.runs} runs; ${os.cpus().length} CPUs; node ${process.version}` +
      (gateway
        ? `; Node-RED in a memory cgroup of ${Math.round(gateway / 1048576)} MB (BENCH_GATEWAY_MEMORY)`
        : ''),
  );
  const reports: FigureReport[] = [];
  for (const figure of selected) {
    console.log(`\n${figure.title}`);
    const t0 = Date.now();
    const load0 = os.loadavg()[0];
    let result: FigureResult = { metrics: [], notes: [], details: {} };
    let error: string | undefined;
    try {
      result = await figure.run(ctx);
    } catch (err) {
      error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`  ${figure.id} failed: ${error}`);
    }
    reports.push({
      id: figure.id,
      title: figure.title,
      seconds: (Date.now() - t0) / 1000,
      loadavg: [load0, os.loadavg()[0]],
      metrics: result.metrics.map(summarise),
      notes: result.notes,
      details: result.details,
      error,
    });
  }
  const finished = new Date();

  console.log('\n' + table(reports, config.runs));
  const json = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished.getTime() - started.getTime()) / 1000,
    commit: gitDescribe(),
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memory: os.totalmem(),
      node: process.version,
    },
    config,
    figures: reports,
  };
  const jsonFile = path.join(resultsDir, `${label}.json`);
  fs.writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
  console.log(`\nresults: ${jsonFile}`);
  const svg = latencyChart(reports.find((r) => r.id === 'http'));
  if (svg) {
    const chartFile = path.join(resultsDir, label === 'latest' ? 'latency.svg' : `${label}-latency.svg`);
    fs.writeFileSync(chartFile, svg);
    if (fullRun && label === 'latest') fs.writeFileSync(path.join(repoRoot, 'bench', 'latency.svg'), svg);
    console.log(
      `chart: ${chartFile}${fullRun && label === 'latest' ? ' (copied to bench/latency.svg)' : ''}`,
    );
  }
  console.log(`total ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s`);
  return reports.some((r) => r.error || r.notes.some((n) => n.startsWith('FAILED'))) ? 1 : 0;
}

if (require.main === module)
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
