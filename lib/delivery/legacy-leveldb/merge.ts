import type { Versioned } from './table-file';

/** LevelDB's order of internal keys: user key ascending (bytewise), then newest first. */
export function compareVersioned(a: Versioned, b: Versioned): number {
  return Buffer.compare(a.key, b.key) || b.seq - a.seq;
}

/**
 * What a LevelDB read would see: for each user key, in key order, its newest version if that is
 * a put. Each source must already be in LevelDB's order; sources may overlap.
 */
export function* newestPuts(sources: Array<Iterator<Versioned>>): Generator<Versioned> {
  const heads: Array<Versioned | undefined> = sources.map((s) => next(s));
  let lastKey: Buffer | undefined;
  for (;;) {
    let min = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (min < 0 || compareVersioned(h, heads[min] as Versioned) < 0)) min = i;
    }
    if (min < 0) return;
    const v = heads[min] as Versioned;
    heads[min] = next(sources[min]);
    if (lastKey && lastKey.equals(v.key)) continue;
    lastKey = v.key;
    if (v.type === 1) yield v;
  }
}

function next(it: Iterator<Versioned>): Versioned | undefined {
  const r = it.next();
  return r.done ? undefined : r.value;
}
