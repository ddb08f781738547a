import type { VtqEntry } from '../alwayson/helpers';
import type { TypedValue } from '../alwayson/values';

/** Rough bytes a value holds in memory (strings dominate: a JSON uplink is its text). */
function sizeOf(v: TypedValue): number {
  if (typeof v.value === 'string') return 2 * v.value.length + 32;
  if (v.value instanceof Uint8Array) return v.value.length + 32;
  if (v.value && typeof v.value === 'object' && 'baseType' in v.value) return sizeOf(v.value) + 16;
  return 48;
}

/**
 * The last value pushed (UpdateSubscribedPropertyValues acknowledged) of each property of each bound Thing: what a
 * GET of the property is answered, and what VALUE / DEADBAND push types compare with. Bounded by `maxBytes`: the
 * Things pushed to longest ago are forgotten first (a GET of theirs is then 0x84, and their next value is pushed).
 */
export class PushedValues {
  private readonly values = new Map<string, { props: Map<string, TypedValue>; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  get size(): number {
    return this.bytes;
  }

  record(thing: string, entries: readonly VtqEntry[]): void {
    const held = this.values.get(thing);
    const props = held?.props ?? new Map<string, TypedValue>();
    let bytes = held?.bytes ?? 2 * thing.length + 64;
    for (const e of entries) {
      const prev = props.get(e.name);
      if (prev) bytes -= sizeOf(prev) + 2 * e.name.length;
      props.set(e.name, e.value);
      bytes += sizeOf(e.value) + 2 * e.name.length;
    }
    // Most recently pushed last, so the oldest are the first to go.
    this.forget(thing);
    this.values.set(thing, { props, bytes });
    this.bytes += bytes;
    for (const [name, v] of this.values) {
      if (this.bytes <= this.maxBytes || name === thing) break;
      this.values.delete(name);
      this.bytes -= v.bytes;
    }
  }

  get(thing: string, property: string): TypedValue | undefined {
    return this.values.get(thing)?.props.get(property);
  }

  forget(thing: string): void {
    const held = this.values.get(thing);
    if (!held) return;
    this.values.delete(thing);
    this.bytes -= held.bytes;
  }
}
