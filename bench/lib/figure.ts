import type { BenchConfig } from './config';
import { max, median, min } from './stats';

/** A target a metric should meet (compared with its median). */
export interface Goal {
  op: '>=' | '<=';
  value: number;
}

/** One row of the table: a value measured once per run. */
export interface Metric {
  label: string;
  unit: string;
  /** One value per run. */
  values: number[];
  goal?: Goal;
  /** Digits after the point in the table (default: 0, or 2 for ratios). */
  digits?: number;
}

export interface FigureResult {
  metrics: Metric[];
  /** Caveats worth reading beside the numbers (shown under the table). */
  notes: string[];
  /** Everything else measured, per run, for the JSON file. */
  details: Record<string, unknown>;
}

export interface BenchContext {
  config: BenchConfig;
  /** bench/results (created). */
  resultsDir: string;
  log(message: string): void;
}

/** A figure is one module in bench/figures/ exporting one of these; bench/figures/index.ts lists them. */
export interface Figure {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<FigureResult>;
}

export interface MetricSummary extends Metric {
  median: number;
  min: number;
  max: number;
  /** Whether the median meets the goal; undefined without a goal. */
  pass?: boolean;
}

export function summarise(metric: Metric): MetricSummary {
  const m = median(metric.values);
  const pass =
    metric.goal === undefined
      ? undefined
      : metric.goal.op === '>='
        ? m >= metric.goal.value
        : m <= metric.goal.value;
  return { ...metric, median: m, min: min(metric.values), max: max(metric.values), pass };
}

/** Collects one value per run under a label, in order of first use. */
export class MetricSet {
  private readonly metrics = new Map<string, Metric>();

  add(
    label: string,
    unit: string,
    value: number,
    extra: Partial<Pick<Metric, 'goal' | 'digits'>> = {},
  ): void {
    let m = this.metrics.get(label);
    if (!m) {
      m = { label, unit, values: [], ...extra };
      this.metrics.set(label, m);
    }
    m.values.push(value);
  }

  /** How many values each metric has now, to undo a failed run. */
  mark(): Map<string, number> {
    return new Map([...this.metrics].map(([label, m]) => [label, m.values.length]));
  }

  rollback(mark: Map<string, number>): void {
    for (const [label, m] of this.metrics) {
      const keep = mark.get(label) ?? 0;
      if (keep === 0) this.metrics.delete(label);
      else m.values.length = keep;
    }
  }

  list(): Metric[] {
    return [...this.metrics.values()];
  }
}
