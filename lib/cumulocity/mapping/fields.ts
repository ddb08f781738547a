/** Field readers and packing shared by the mapping modules. Pure. */
import { isDevEUI } from '../../thingpark/mapping/document-types';
import { CumulocityError, MappingError } from '../errors';
import { childIdFor } from './device-registration';
import { MAX_PACKET_BYTES, packLines, type Publish } from './smartrest';
import type { Body, Context } from './types';

export function packOptions(ctx: Context): { maxPacketBytes: number; qos: 0 | 1 | 2 } {
  return { maxPacketBytes: ctx.options.maxPacketBytes ?? MAX_PACKET_BYTES, qos: ctx.options.qos ?? 1 };
}

export function pack(topic: string, lines: readonly string[], ctx: Context): Publish[] {
  try {
    return packLines(topic, lines, packOptions(ctx));
  } catch (err) {
    if (err instanceof CumulocityError) throw new MappingError('too-large', err.message, ctx.type);
    throw err;
  }
}

export function device(body: Body, ctx: Context): { devEUI: string; childId: string } {
  const devEUI = body.DevEUI;
  if (devEUI === undefined || devEUI === null || devEUI === '') {
    throw new MappingError('missing-field', 'DevEUI is required', ctx.type);
  }
  if (!isDevEUI(devEUI)) {
    throw new MappingError('invalid-field', `DevEUI ${describe(devEUI)} (expected 16 hex digits)`, ctx.type);
  }
  return { devEUI, childId: childIdFor(devEUI) };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function optionalTime(value: unknown): string | undefined {
  return typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))
    ? value
    : undefined;
}

/**
 * The document's own time, as written (first present of `fields`). An invalid time is an error; a
 * document with none gets `options.now()` so SmartREST lines and the JSON event (where `time` is
 * mandatory) agree.
 */
export function timeOf(body: Body, fields: readonly string[], ctx: Context): string {
  for (const field of fields) {
    const value = body[field];
    if (value === undefined || value === null || value === '') continue;
    const time = optionalTime(value);
    if (time === undefined) {
      throw new MappingError(
        'invalid-field',
        `${field} ${describe(value)} (expected ISO 8601 with offset)`,
        ctx.type,
      );
    }
    return time;
  }
  ctx.warnings.push(`no ${fields.join('/')}: used the current time`);
  return (ctx.options.now ?? (() => new Date()))().toISOString();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A number, or a numeric string (untyped JSON). */
export function numberValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return `a ${Array.isArray(value) ? 'list' : typeof value}`;
}
