/**
 * ThingPark documents ↔ ThingWorx Thing properties, for the ThingWorx connection (pure: no I/O, no clock unless a
 * caller passes none).
 *
 * - Every document goes whole into the JSON property `uplinkData` (as IoT Flow's ThingWorx connector does), with
 *   the document's own Time and quality GOOD.
 * - Optional flattened values, each written only when the Thing template has a property of that exact name (the
 *   caller passes the template's property definitions): top-level fields of the document (`LrrRSSI`, `LrrSNR`,
 *   `FCntUp`, `SpFact`, …, aliases `rssi` and `snr`), `location` (LOCATION, from DevLAT/DevLON), every leaf and
 *   sub-object of the decoder's `payload` (path joined with `_`), and the ontology `points` (by point name).
 *   Later sources win: document fields, then payload, then points. Each value is converted to the property's base
 *   type, or left out when it cannot be.
 * - `downlinkStatus` (JSON): how a downlink written to the Thing went (`downlink out`'s result, then ThingPark's
 *   DevEUI_downlink_Sent / _Rejected report).
 * - A write of the remote property `downlink` / `downlinkData` carries a `DevEUI_downlink` request; the Thing is the
 *   device, so its DevEUI comes from the Thing name when the request leaves it out.
 */
import { DocumentError, isDevEUI, type DocumentBody } from '../../thingpark/mapping/document-types';
import { parseDownlink, type DownlinkRequest } from '../../thingpark/mapping/downlink';
import { isPlainObject } from '../../thingpark/mapping/normalise';
import { BaseType } from '../alwayson/constants';
import { parseJsonValue, Typed, unwrapVariant, type VtqEntry } from '../alwayson/helpers';
import type { InfoTable, TypedValue } from '../alwayson/values';

/** The JSON property receiving every document. */
export const UPLINK_PROPERTY = 'uplinkData';
/** Remote properties the platform writes downlink requests to (Actility's doc says `downlink`, its screenshots `downlinkData`). */
export const DOWNLINK_PROPERTIES: readonly string[] = ['downlink', 'downlinkData'];
/** The JSON property receiving how a downlink went. */
export const STATUS_PROPERTY = 'downlinkStatus';
/** Our template, when the user names none. */
export const DEFAULT_TEMPLATE = 'ThingParkDeviceTemplate';

/** Property name → base type name (`JSON`, `NUMBER`, …) of the Thing template. */
export type PropertyTypes = ReadonlyMap<string, string>;

const RESERVED = new Set([UPLINK_PROPERTY, STATUS_PROPERTY, ...DOWNLINK_PROPERTIES]);
const MAX_DEPTH = 8;
const MAX_CANDIDATES = 2000;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/** The Thing of a device: prefix + DevEUI (upper case). */
export function thingNameFor(prefix: string, devEUI: string): string {
  return `${prefix}${devEUI.toUpperCase()}`;
}

/** The DevEUI a Thing name stands for (prefix + 16 hex digits), if it is one. */
export function devEuiOfThing(prefix: string, thing: string): string | undefined {
  if (!thing.startsWith(prefix)) return undefined;
  const rest = thing.slice(prefix.length);
  return isDevEUI(rest) ? rest.toUpperCase() : undefined;
}

/** `time` as ms since the epoch: an ISO string or a number; `fallback` when absent or invalid. */
export function timeOf(time: unknown, fallback: number): number {
  const ms = typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : NaN;
  return Number.isFinite(ms) ? ms : fallback;
}

/**
 * Property definitions from a `GetInstancePropertyDefinitions` result (DataShape PropertyDefinition: `name`,
 * `baseType`, …). Rows without both are skipped.
 */
export function propertyTypesFrom(table: InfoTable | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!table) return out;
  const text = (v: TypedValue | undefined): string | undefined => {
    if (!v) return undefined;
    const inner = unwrapVariant(v);
    return typeof inner.value === 'string' ? inner.value : undefined;
  };
  for (const row of table.rows) {
    const name = text(Object.prototype.hasOwnProperty.call(row, 'name') ? row.name : undefined);
    const type = text(Object.prototype.hasOwnProperty.call(row, 'baseType') ? row.baseType : undefined);
    if (name && type) out.set(name, type.toUpperCase());
  }
  return out;
}

/** A value converted to a ThingWorx base type, or undefined when it does not fit. */
export function typedValue(baseType: string, value: unknown): TypedValue | undefined {
  switch (baseType) {
    case 'NUMBER': {
      const n = typeof value === 'number' ? value : NaN;
      return Number.isFinite(n) ? Typed.number(n) : undefined;
    }
    case 'INTEGER':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
        ? Typed.integer(value)
        : undefined;
    case 'LONG':
      return typeof value === 'number' && Number.isSafeInteger(value) ? Typed.long(value) : undefined;
    case 'BOOLEAN':
      return typeof value === 'boolean' ? Typed.boolean(value) : undefined;
    case 'STRING':
    case 'TEXT':
      return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? { baseType: baseType === 'TEXT' ? BaseType.TEXT : BaseType.STRING, value: String(value) }
        : undefined;
    case 'JSON':
      return value === undefined ? undefined : Typed.json(value);
    case 'DATETIME': {
      const ms = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : NaN;
      return Number.isFinite(ms) ? Typed.datetime(ms) : undefined;
    }
    case 'LOCATION': {
      if (!isPlainObject(value)) return undefined;
      const { longitude, latitude, elevation } = value;
      if (typeof longitude !== 'number' || typeof latitude !== 'number') return undefined;
      if (!Number.isFinite(longitude) || !Number.isFinite(latitude)) return undefined;
      if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return undefined;
      return Typed.location({
        longitude,
        latitude,
        elevation: typeof elevation === 'number' && Number.isFinite(elevation) ? elevation : 0,
      });
    }
    default:
      return undefined;
  }
}

/**
 * Values a document offers for flattened properties, by property name (see the module comment for the sources and
 * their precedence). Bounded: at most 2000 names, nesting to depth 8.
 */
export function candidateValues(body: DocumentBody): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const put = (name: string, value: unknown): void => {
    if (name === '' || RESERVED.has(name)) return;
    if (!out.has(name) && out.size >= MAX_CANDIDATES) return;
    out.set(name, value);
  };
  for (const [key, value] of Object.entries(body)) {
    if (key === 'payload' || key === 'points') continue;
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') put(key, value);
  }
  if (body.LrrRSSI !== undefined) put('rssi', body.LrrRSSI);
  if (body.LrrSNR !== undefined) put('snr', body.LrrSNR);
  if (typeof body.DevLAT === 'number' && typeof body.DevLON === 'number') {
    put('location', {
      latitude: body.DevLAT,
      longitude: body.DevLON,
      elevation: typeof body.DevAlt === 'number' ? body.DevAlt : 0,
    });
  }
  if (isPlainObject(body.payload)) {
    const walk = (value: unknown, path: string[]): void => {
      put(path.join('_'), value);
      if (path.length >= MAX_DEPTH) return;
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, String(i)]));
      else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    for (const [key, value] of Object.entries(body.payload)) walk(value, [key]);
  }
  if (isPlainObject(body.points)) {
    for (const [name, point] of Object.entries(body.points)) {
      const value = pointValue(point);
      if (value !== undefined) put(name, value);
    }
  }
  return out;
}

/** An IoT Flow ontology point's latest value: `{record}`, `{records: [{value}]}` or `[{eventTime, value}]`. */
function pointValue(point: unknown): unknown {
  const last = (list: unknown[]): unknown => {
    const entry = list[list.length - 1];
    return isPlainObject(entry) ? (entry.value ?? entry.record) : entry;
  };
  if (Array.isArray(point)) return point.length ? last(point) : undefined;
  if (!isPlainObject(point)) return undefined;
  if (point.record !== undefined) return point.record;
  if (Array.isArray(point.records) && point.records.length) return last(point.records);
  return undefined;
}

/** The flattened properties of a document the template has, converted to their base types. */
export function flattenedEntries(body: DocumentBody, properties: PropertyTypes, time: number): VtqEntry[] {
  const entries: VtqEntry[] = [];
  if (properties.size === 0) return entries;
  for (const [name, value] of candidateValues(body)) {
    const type = properties.get(name);
    if (!type) continue;
    const typed = typedValue(type, value);
    if (typed) entries.push({ name, value: typed, time, quality: 'GOOD' });
  }
  return entries;
}

/** `downlinkStatus` for a ThingPark downlink report (DevEUI_downlink_Sent / _Rejected), else undefined. */
export function statusFromReport(
  type: string,
  body: DocumentBody,
  time: string,
): Record<string, unknown> | undefined {
  if (type !== 'DevEUI_downlink_Sent' && type !== 'DevEUI_downlink_Rejected') return undefined;
  const status: Record<string, unknown> = {
    status: type === 'DevEUI_downlink_Sent' ? 'sent' : 'rejected',
    DevEUI: body.DevEUI,
    CorrelationID: body.CorrelationID,
    time,
  };
  for (const key of ['FPort', 'FCntDn', 'DeliveryStatus', 'DeliveryFailedCause1', 'DownlinkRejectionCause']) {
    if (body[key] !== undefined) status[key] = body[key];
  }
  return status;
}

/**
 * The NamedVTQ rows for one document: `uplinkData` (the whole document, typed JSON with its root key), the
 * flattened values the template has, and `downlinkStatus` for a downlink report when the template has it. All with
 * the document's time and quality GOOD. `properties` undefined = the template's definitions are unknown: only
 * `uplinkData`.
 */
export function documentEntries(
  document: Record<string, unknown>,
  time: number,
  properties: PropertyTypes | undefined,
): VtqEntry[] {
  const entries: VtqEntry[] = [{ name: UPLINK_PROPERTY, value: Typed.json(document), time, quality: 'GOOD' }];
  const [type] = Object.keys(document);
  const body = isPlainObject(document[type]) ? document[type] : undefined;
  if (!properties || !body) return entries;
  entries.push(...flattenedEntries(body, properties, time));
  if (properties.has(STATUS_PROPERTY)) {
    const status = statusFromReport(type, body, new Date(time).toISOString());
    if (status) entries.push({ name: STATUS_PROPERTY, value: Typed.json(status), time, quality: 'GOOD' });
  }
  return entries;
}

/**
 * The downlink request in a write of `downlink` / `downlinkData`: JSON `{"DevEUI_downlink":{…}}` or its body
 * alone. `thingDevEUI` (the Thing's device) fills a missing DevEUI; a different DevEUI is refused. Throws
 * DocumentError with the reason.
 */
export function parseDownlinkWrite(value: TypedValue, thingDevEUI: string | undefined): DownlinkRequest {
  const inner = unwrapVariant(value);
  const parsed = typeof inner.value === 'string' ? parseJsonValue(inner) : undefined;
  if (!isPlainObject(parsed)) {
    throw new DocumentError('the value is not a JSON object {"DevEUI_downlink":{…}}', 'syntax');
  }
  let body: DocumentBody;
  if (isPlainObject(parsed.DevEUI_downlink)) body = { ...parsed.DevEUI_downlink };
  else if (['DevEUI', 'FPort', 'payload_hex', 'Payload', 'payload'].some((k) => k in parsed))
    body = { ...parsed };
  else throw new DocumentError('expected {"DevEUI_downlink":{FPort, payload_hex}}', 'unknown-type');
  if (body.DevEUI === undefined || body.DevEUI === '') {
    if (!thingDevEUI)
      throw new DocumentError('DevEUI is missing and the Thing name is not a DevEUI', 'missing-field');
    body.DevEUI = thingDevEUI;
  } else if (
    thingDevEUI &&
    typeof body.DevEUI === 'string' &&
    body.DevEUI.toUpperCase() !== thingDevEUI.toUpperCase()
  ) {
    throw new DocumentError(
      `DevEUI ${body.DevEUI} is not this Thing's device (${thingDevEUI})`,
      'invalid-field',
    );
  }
  return parseDownlink({ DevEUI_downlink: body }, { allowDriverPayload: true });
}

/** A status body for `downlinkStatus` from `downlink out`'s result. */
export function statusFromResult(
  result: { status?: string; DevEUI?: string; CorrelationID?: string; httpStatus?: number; reason?: string },
  ref: { property: string },
  now = new Date(),
): Record<string, unknown> {
  const status: Record<string, unknown> = { status: result.status ?? 'error' };
  for (const key of ['DevEUI', 'CorrelationID', 'httpStatus', 'reason'] as const) {
    if (result[key] !== undefined) status[key] = result[key];
  }
  status.property = ref.property;
  status.time = now.toISOString();
  return status;
}
