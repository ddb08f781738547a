import type { VtqEntry } from '../alwayson/helpers';
import type { TypedValue } from '../alwayson/values';

/** The last value pushed (UpdateSubscribedPropertyValues acknowledged) of each property of each bound Thing. */
export class PushedValues {
  private readonly values = new Map<string, Map<string, TypedValue>>();

  record(thing: string, entries: readonly VtqEntry[]): void {
    let props = this.values.get(thing);
    if (!props) this.values.set(thing, (props = new Map()));
    for (const e of entries) props.set(e.name, e.value);
  }

  get(thing: string, property: string): TypedValue | undefined {
    return this.values.get(thing)?.get(property);
  }

  forget(thing: string): void {
    this.values.delete(thing);
  }
}
