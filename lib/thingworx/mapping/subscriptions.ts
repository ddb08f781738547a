/**
 * The platform's subscription settings of a Thing's remote properties (what `GetPropertySubscriptions` answers),
 * and which values they let through (pure: no I/O).
 *
 * Each row names a property (`name`), the name the edge pushes it under (`edgeName`, the remote binding's
 * remotePropertyName), and when to push it (`pushType`: ALWAYS, VALUE when it changed, NEVER, DEADBAND when a number
 * moved by more than `pushThreshold`; ON / OFF of older platforms read as ALWAYS / NEVER).
 */
import { BaseType } from '../alwayson/constants';
import { unwrapVariant, type VtqEntry } from '../alwayson/helpers';
import type { InfoTable, TypedValue } from '../alwayson/values';

export type PushType = 'ALWAYS' | 'VALUE' | 'NEVER' | 'DEADBAND';

export interface PropertySubscription {
  edgeName: string;
  pushType: PushType;
  pushThreshold: number;
}

/** Property name → its subscription. A property the platform does not list is not pushed. */
export type Subscriptions = ReadonlyMap<string, PropertySubscription>;

function text(row: Record<string, TypedValue>, column: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(row, column)) return undefined;
  const v = unwrapVariant(row[column]);
  return typeof v.value === 'string' ? v.value : undefined;
}

function pushTypeOf(value: string | undefined): PushType {
  switch ((value ?? '').toUpperCase()) {
    case 'VALUE':
      return 'VALUE';
    case 'NEVER':
    case 'OFF':
      return 'NEVER';
    case 'DEADBAND':
      return 'DEADBAND';
    default:
      return 'ALWAYS';
  }
}

/** The subscriptions of a `GetPropertySubscriptions` result (a row without `name` is keyed by its `edgeName`). */
export function subscriptionsFrom(table: InfoTable | undefined): Map<string, PropertySubscription> {
  const out = new Map<string, PropertySubscription>();
  for (const row of table?.rows ?? []) {
    const edgeName = text(row, 'edgeName');
    if (!edgeName) continue;
    const name = text(row, 'name') || edgeName;
    const t = Object.prototype.hasOwnProperty.call(row, 'pushThreshold')
      ? unwrapVariant(row.pushThreshold)
      : undefined;
    const pushThreshold = t && typeof t.value === 'number' && Number.isFinite(t.value) ? t.value : 0;
    out.set(name, { edgeName, pushType: pushTypeOf(text(row, 'pushType')), pushThreshold });
  }
  return out;
}

function sameValue(a: TypedValue, b: TypedValue): boolean {
  const x = unwrapVariant(a);
  const y = unwrapVariant(b);
  if (x.baseType !== y.baseType) return false;
  if (x.baseType === BaseType.LOCATION && y.baseType === BaseType.LOCATION) {
    return (
      x.value.latitude === y.value.latitude &&
      x.value.longitude === y.value.longitude &&
      (x.value.elevation ?? 0) === (y.value.elevation ?? 0)
    );
  }
  return x.value === y.value;
}

/**
 * The entries to push under the platform's settings: renamed to their `edgeName`, left out when NEVER, when VALUE
 * and unchanged since `last`, or when DEADBAND and a number that moved by no more than `pushThreshold` (a value
 * that is not a number is pushed when it changed). `subs` undefined (not known): every entry as it is.
 */
export function applySubscriptions(
  entries: readonly VtqEntry[],
  subs: Subscriptions | undefined,
  last: (edgeName: string) => TypedValue | undefined,
): VtqEntry[] {
  if (!subs) return [...entries];
  const out: VtqEntry[] = [];
  for (const e of entries) {
    const sub = subs.get(e.name);
    if (!sub || sub.pushType === 'NEVER') continue;
    const prev = sub.pushType === 'ALWAYS' ? undefined : last(sub.edgeName);
    if (prev) {
      if (sub.pushType === 'VALUE' && sameValue(prev, e.value)) continue;
      if (sub.pushType === 'DEADBAND') {
        const a = unwrapVariant(prev).value;
        const b = unwrapVariant(e.value).value;
        if (typeof a === 'number' && typeof b === 'number') {
          if (Math.abs(b - a) <= sub.pushThreshold) continue;
        } else if (sameValue(prev, e.value)) continue;
      }
    }
    out.push(sub.edgeName === e.name ? e : { ...e, name: sub.edgeName });
  }
  return out;
}
