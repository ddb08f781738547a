import { asBuffer, Reader, Writer } from './binary';
import {
  BaseType,
  isKnownBaseType,
  isStringBaseType,
  UNSUPPORTED_BASE_TYPES,
  type StringBaseType,
} from './constants';
import { AlwaysOnDecodeError, AlwaysOnEncodeError } from './errors';

/** A LOCATION: longitude, latitude, elevation (written in that order). */
export interface Location {
  longitude: number;
  latitude: number;
  /** Defaults to 0 when encoding; always present once decoded. */
  elevation?: number;
}

/**
 * A value with its base type. Decoding always yields `number` for DATETIME (ms since the epoch) and a Buffer for
 * BLOB/IMAGE; encoding also takes a Date and any Uint8Array.
 */
export type TypedValue =
  | { baseType: StringBaseType; value: string }
  | { baseType: typeof BaseType.NUMBER; value: number }
  | { baseType: typeof BaseType.INTEGER; value: number }
  | { baseType: typeof BaseType.LONG; value: number }
  | { baseType: typeof BaseType.BOOLEAN; value: boolean }
  | { baseType: typeof BaseType.DATETIME; value: number | Date }
  | { baseType: typeof BaseType.LOCATION; value: Location }
  | { baseType: typeof BaseType.BLOB | typeof BaseType.IMAGE; value: Uint8Array }
  | { baseType: typeof BaseType.VARIANT; value: TypedValue }
  | { baseType: typeof BaseType.INFOTABLE; value: InfoTable }
  | { baseType: typeof BaseType.NOTHING; value: null };

/** One column of a DataShape. Decoding omits `description` when empty and `aspects` when there are none. */
export interface FieldDefinition {
  name: string;
  baseType: BaseType;
  description?: string;
  aspects?: Record<string, TypedValue>;
}

/** A row: one typed value per column name. Columns missing from a row are written as NOTHING. */
export type InfoTableRow = Record<string, TypedValue>;

export interface InfoTable {
  dataShape: FieldDefinition[];
  rows: InfoTableRow[];
}

export interface DecodeOptions {
  /** Deepest nesting of INFOTABLE / VARIANT values accepted (default 16). */
  maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 16;

const NOTHING_VALUE: TypedValue = { baseType: BaseType.NOTHING, value: null };

/**
 * Own enumerable property, even for `__proto__`, the one name a plain assignment would not create (it is
 * Object.prototype's only accessor). Assignment otherwise: defineProperty costs 7x as much per field.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

const TYPE_NAMES = new Map<number, string>(Object.entries(BaseType).map(([k, v]) => [v, k]));

/** `STRING`, `INFOTABLE`, … or the number itself for an unknown type. */
export function baseTypeName(t: number): string {
  return TYPE_NAMES.get(t) ?? String(t);
}

/** Write a value without its base-type byte. */
function writeValue(w: Writer, v: TypedValue, depth: number): void {
  const t = v.baseType;
  if (isStringBaseType(t)) {
    w.string(v.value as string, baseTypeName(t));
    return;
  }
  switch (v.baseType) {
    case BaseType.NOTHING:
      return;
    case BaseType.NUMBER:
      if (typeof v.value !== 'number') throw new AlwaysOnEncodeError('NUMBER value is not a number');
      w.f64(v.value);
      return;
    case BaseType.INTEGER:
      w.i32(v.value, 'INTEGER');
      return;
    case BaseType.LONG:
      w.i64(v.value, 'LONG');
      return;
    case BaseType.BOOLEAN:
      if (typeof v.value !== 'boolean') throw new AlwaysOnEncodeError('BOOLEAN value is not a boolean');
      w.u8(v.value ? 1 : 0);
      return;
    case BaseType.DATETIME: {
      const ms = v.value instanceof Date ? v.value.getTime() : v.value;
      w.i64(ms, 'DATETIME');
      return;
    }
    case BaseType.LOCATION: {
      const loc = v.value;
      if (!loc || typeof loc !== 'object') throw new AlwaysOnEncodeError('LOCATION value is not an object');
      w.f64(loc.longitude, 'longitude');
      w.f64(loc.latitude, 'latitude');
      w.f64(loc.elevation ?? 0, 'elevation');
      return;
    }
    case BaseType.BLOB:
    case BaseType.IMAGE:
      if (!(v.value instanceof Uint8Array))
        throw new AlwaysOnEncodeError('BLOB/IMAGE value is not a Uint8Array');
      w.u32(v.value.length, 'BLOB length');
      w.bytes(v.value);
      return;
    case BaseType.VARIANT:
      if (!v.value || typeof v.value !== 'object')
        throw new AlwaysOnEncodeError('VARIANT value is not a TypedValue');
      writeTyped(w, v.value, depth + 1);
      return;
    case BaseType.INFOTABLE:
      writeInfoTable(w, v.value, depth + 1);
      return;
    default:
      throw new AlwaysOnEncodeError(`unknown base type ${String((v as { baseType: unknown }).baseType)}`);
  }
}

function checkDepth(depth: number): void {
  // Encoding is not bounded by a limit of the peer, only guarded against cycles.
  if (depth > 1000) throw new AlwaysOnEncodeError('value nesting is too deep (cycle?)');
}

/** Write the base-type byte then the value. */
export function writeTyped(w: Writer, v: TypedValue, depth = 0): void {
  checkDepth(depth);
  if (!v || typeof v !== 'object' || !isKnownBaseType(v.baseType)) {
    throw new AlwaysOnEncodeError(`not a TypedValue with a known base type: ${JSON.stringify(v?.baseType)}`);
  }
  w.u8(v.baseType);
  writeValue(w, v, depth);
}

export function writeDataShape(w: Writer, shape: readonly FieldDefinition[], depth = 0): void {
  const seen = new Set<string>();
  for (const f of shape) {
    if (!f || typeof f.name !== 'string') throw new AlwaysOnEncodeError('field definition without a name');
    if (seen.has(f.name)) throw new AlwaysOnEncodeError(`duplicate field name ${JSON.stringify(f.name)}`);
    seen.add(f.name);
    if (!isKnownBaseType(f.baseType)) {
      throw new AlwaysOnEncodeError(`field ${JSON.stringify(f.name)} has unknown base type ${f.baseType}`);
    }
    w.u8(0x01);
    w.string(f.name, 'field name');
    w.string(f.description ?? '', 'field description');
    w.u8(f.baseType);
    const aspects = f.aspects ? Object.keys(f.aspects) : [];
    w.u16(aspects.length, 'aspect count');
    for (const name of aspects) {
      w.string(name, 'aspect name');
      writeTyped(w, f.aspects![name], depth);
    }
  }
  w.u8(0x00);
}

export function writeInfoTable(w: Writer, table: InfoTable, depth = 0): void {
  checkDepth(depth);
  if (!table || !Array.isArray(table.dataShape) || !Array.isArray(table.rows)) {
    throw new AlwaysOnEncodeError('InfoTable needs a dataShape array and a rows array');
  }
  writeDataShape(w, table.dataShape, depth);
  const names = table.dataShape.map((f) => f.name);
  const known = new Set(names);
  for (const row of table.rows) {
    if (!row || typeof row !== 'object') throw new AlwaysOnEncodeError('InfoTable row is not an object');
    for (const key of Object.keys(row)) {
      if (!known.has(key))
        throw new AlwaysOnEncodeError(`row has field ${JSON.stringify(key)} not in the DataShape`);
    }
    w.u8(0x01);
    w.u16(names.length, 'row field count');
    for (const name of names) writeTyped(w, hasOwn(row, name) ? row[name] : NOTHING_VALUE, depth);
  }
  w.u8(0x00);
}

/** Base-type byte + value, e.g. `1600000496` for INTEGER 1174. */
export function encodeTypedValue(v: TypedValue): Buffer {
  const w = new Writer(32);
  writeTyped(w, v);
  return w.toBuffer();
}

/** An InfoTable inline (DataShape, `00`, rows, `00`), without a leading `05`. */
export function encodeInfoTable(table: InfoTable): Buffer {
  const w = new Writer();
  writeInfoTable(w, table);
  return w.toBuffer();
}

/** A length-prefixed string as on the wire. */
export function encodeString(s: string): Buffer {
  return new Writer(s.length + 5).string(s).toBuffer();
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

function maxDepthOf(opts: DecodeOptions | undefined): number {
  return opts?.maxDepth ?? DEFAULT_MAX_DEPTH;
}

function enterNested(r: Reader, depth: number, maxDepth: number): number {
  if (depth >= maxDepth) throw new AlwaysOnDecodeError('too-deep', r.pos, `nesting deeper than ${maxDepth}`);
  return depth + 1;
}

function readBaseType(r: Reader, what: string): BaseType {
  const at = r.pos;
  const t = r.u8(what);
  if (!isKnownBaseType(t)) {
    const name = UNSUPPORTED_BASE_TYPES[t];
    throw new AlwaysOnDecodeError(
      'unknown-base-type',
      at,
      name ? `${what} ${name} (${t}) is not supported` : `${what} ${t}`,
    );
  }
  return t;
}

/** Read a value of a known type (type byte already consumed). */
function readValue(r: Reader, t: BaseType, depth: number, maxDepth: number): TypedValue {
  if (isStringBaseType(t)) return { baseType: t, value: r.string(baseTypeName(t)) };
  switch (t) {
    case BaseType.NOTHING:
      return { baseType: t, value: null };
    case BaseType.NUMBER:
      return { baseType: t, value: r.f64('NUMBER') };
    case BaseType.INTEGER:
      return { baseType: t, value: r.i32('INTEGER') };
    case BaseType.LONG:
      // Beyond ±2^53 a LONG has no exact JS number: that value fails its message ('out-of-range').
      return { baseType: t, value: r.i64('LONG') };
    case BaseType.BOOLEAN:
      return { baseType: t, value: r.u8('BOOLEAN') !== 0 };
    case BaseType.DATETIME:
      return { baseType: t, value: r.i64('DATETIME') };
    case BaseType.LOCATION: {
      const longitude = r.f64('longitude');
      const latitude = r.f64('latitude');
      const elevation = r.f64('elevation');
      return { baseType: t, value: { longitude, latitude, elevation } };
    }
    case BaseType.BLOB:
    case BaseType.IMAGE: {
      const at = r.pos;
      const len = r.u32('BLOB length');
      if (len > r.remaining) {
        throw new AlwaysOnDecodeError('truncated', at, `BLOB declares ${len} byte(s), ${r.remaining} left`);
      }
      return { baseType: t, value: r.bytes(len, 'BLOB') };
    }
    case BaseType.VARIANT: {
      const inner = readTyped(r, enterNested(r, depth, maxDepth), maxDepth);
      return { baseType: t, value: inner };
    }
    case BaseType.INFOTABLE:
      return { baseType: t, value: readInfoTable(r, enterNested(r, depth, maxDepth), maxDepth) };
    default:
      // Unreachable: every known type is handled above.
      throw new AlwaysOnDecodeError('unknown-base-type', r.pos, `base type ${t}`);
  }
}

export function readTyped(r: Reader, depth: number, maxDepth: number): TypedValue {
  const t = readBaseType(r, 'base type');
  return readValue(r, t, depth, maxDepth);
}

export function readDataShape(r: Reader, depth: number, maxDepth: number): FieldDefinition[] {
  const fields: FieldDefinition[] = [];
  const seen = new Set<string>();
  for (;;) {
    const at = r.pos;
    const marker = r.u8('field marker');
    if (marker === 0x00) return fields;
    if (marker !== 0x01) throw new AlwaysOnDecodeError('bad-marker', at, `field marker ${marker}`);
    const nameAt = r.pos;
    const name = r.string('field name');
    if (seen.has(name)) throw new AlwaysOnDecodeError('duplicate-field', nameAt, JSON.stringify(name));
    seen.add(name);
    const description = r.string('field description');
    const baseType = readBaseType(r, 'field base type');
    const countAt = r.pos;
    const aspectCount = r.u16('aspect count');
    // Each aspect takes at least 2 bytes (empty name + a type byte): refuse counts the bytes cannot hold.
    if (aspectCount * 2 > r.remaining) {
      throw new AlwaysOnDecodeError('bad-count', countAt, `${aspectCount} aspects in ${r.remaining} byte(s)`);
    }
    const field: FieldDefinition = { name, baseType };
    if (description !== '') field.description = description;
    if (aspectCount > 0) {
      const aspects: Record<string, TypedValue> = {};
      for (let i = 0; i < aspectCount; i++) {
        const aspectName = r.string('aspect name');
        setOwn(aspects, aspectName, readTyped(r, depth, maxDepth));
      }
      field.aspects = aspects;
    }
    fields.push(field);
  }
}

export function readInfoTable(r: Reader, depth: number, maxDepth: number): InfoTable {
  const dataShape = readDataShape(r, depth, maxDepth);
  const rows: InfoTableRow[] = [];
  for (;;) {
    const at = r.pos;
    const marker = r.u8('row marker');
    if (marker === 0x00) return { dataShape, rows };
    if (marker !== 0x01) throw new AlwaysOnDecodeError('bad-marker', at, `row marker ${marker}`);
    const countAt = r.pos;
    const count = r.u16('row field count');
    if (count > dataShape.length) {
      throw new AlwaysOnDecodeError(
        'bad-count',
        countAt,
        `${count} fields for ${dataShape.length} column(s)`,
      );
    }
    // Each field takes at least its type byte.
    if (count > r.remaining) throw new AlwaysOnDecodeError('truncated', countAt, `${count} fields`);
    const row: InfoTableRow = {};
    for (let i = 0; i < count; i++) {
      setOwn(row, dataShape[i].name, readTyped(r, depth, maxDepth));
    }
    rows.push(row);
  }
}

function finish(r: Reader): void {
  if (r.remaining !== 0) {
    throw new AlwaysOnDecodeError('trailing-bytes', r.pos, `${r.remaining} unexpected byte(s)`);
  }
}

/** Decode exactly one base-type byte + value. */
export function decodeTypedValue(bytes: Uint8Array, opts?: DecodeOptions): TypedValue {
  const r = new Reader(asBuffer(bytes));
  const v = readTyped(r, 0, maxDepthOf(opts));
  finish(r);
  return v;
}

/** Decode exactly one inline InfoTable (no leading `05`). */
export function decodeInfoTable(bytes: Uint8Array, opts?: DecodeOptions): InfoTable {
  const r = new Reader(asBuffer(bytes));
  const t = readInfoTable(r, 0, maxDepthOf(opts));
  finish(r);
  return t;
}

export { finish as expectEnd, maxDepthOf };
