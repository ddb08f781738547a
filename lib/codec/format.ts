// Pure: which codec format, and where a codec's answer goes in a ThingPark document.

export type CodecFormat = 'auto' | 'iotflow' | 'ts013';

/** A point of an IoT Flow driver's contract (package.json `driver.points`). */
export interface PointContract {
  unitId?: string;
  type?: string;
}

export interface Point {
  unitId?: string;
  type: string;
  record?: unknown;
  records?: unknown;
  eventTime?: string;
}

export interface Decoded {
  payload: unknown;
  points: Record<string, Point>;
  warnings: string[];
  errors: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** TS013 answers `{data, warnings?, errors?}`; an IoT Flow driver answers the decoded object itself. */
export function isTs013Result(result: unknown): boolean {
  return (
    isRecord(result) &&
    'data' in result &&
    Object.keys(result).every((k) => k === 'data' || k === 'warnings' || k === 'errors')
  );
}

export function resolveFormat(
  format: CodecFormat,
  functions: string[],
  hasContract: boolean,
  result: unknown,
): 'iotflow' | 'ts013' {
  if (format !== 'auto') return format;
  if (hasContract || functions.includes('extractPoints')) return 'iotflow';
  return isTs013Result(result) ? 'ts013' : 'iotflow';
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** Hex of a ThingPark `payload_hex` as the byte array codecs take. */
export function hexToBytes(hex: string): number[] {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not a hex payload: ${hex}`);
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.slice(i, i + 2), 16));
  return out;
}

export function bytesToHex(bytes: unknown): string {
  if (!Array.isArray(bytes)) throw new Error('the codec returned no byte array');
  return bytes
    .map((b) => {
      if (!Number.isInteger(b) || b < 0 || b > 255)
        throw new Error(`the codec returned a value that is not a byte: ${b}`);
      return (b as number).toString(16).padStart(2, '0');
    })
    .join('');
}

/** Points of an IoT Flow driver: `extractPoints` values completed with the contract's unit and type. */
export function iotflowPoints(
  extracted: unknown,
  contract: Record<string, PointContract>,
): Record<string, Point> {
  const points: Record<string, Point> = {};
  if (!isRecord(extracted)) return points;
  for (const [name, value] of Object.entries(extracted)) {
    const c = contract[name] ?? {};
    const base: Point = { type: c.type ?? typeOf(value), ...(c.unitId ? { unitId: c.unitId } : {}) };
    if (isRecord(value) && ('record' in value || 'records' in value))
      points[name] = { ...base, ...value } as Point;
    else points[name] = { ...base, record: value };
  }
  return points;
}

function typeOf(v: unknown): string {
  if (typeof v === 'number') return 'double';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'object';
}

/** Points of a TS013 codec: its numeric leaves, named by their path, without units. */
export function ts013Points(
  data: unknown,
  prefix = '',
  out: Record<string, Point> = {},
): Record<string, Point> {
  if (typeof data === 'number' && Number.isFinite(data) && prefix)
    out[prefix] = { type: 'double', record: data };
  else if (isRecord(data))
    for (const [k, v] of Object.entries(data)) ts013Points(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

export function shapeTs013(result: unknown): Decoded {
  const r = isRecord(result) ? result : {};
  return {
    payload: r.data,
    points: ts013Points(r.data),
    warnings: strings(r.warnings),
    errors: strings(r.errors),
  };
}

/** An encode answer of either format: `{bytes, fPort}` (TS013 adds warnings/errors) or a bare byte array. */
export function shapeEncoded(result: unknown, fPortDefault: number | undefined) {
  const r = Array.isArray(result) ? { bytes: result } : isRecord(result) ? result : {};
  const errors = strings(r.errors);
  const fPort = typeof r.fPort === 'number' ? r.fPort : fPortDefault;
  return {
    payload_hex: errors.length ? '' : bytesToHex(r.bytes),
    fPort,
    warnings: strings(r.warnings),
    errors,
  };
}
