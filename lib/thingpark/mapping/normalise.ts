import {
  describeValue,
  DocumentError,
  isDevEUI,
  isDocumentType,
  TYPES_WITHOUT_DEVEUI,
  type Connectivity,
  type DocumentBody,
  type DocumentInfo,
  type DocumentType,
  type ThingParkDocument,
} from './document-types';

/**
 * Fields ThingPark documents carry as numbers in typed JSON and as strings in untyped JSON and XML
 * (reference/thingpark.md, field tables of actility/tpx-iot-flow-doc). Only these are converted:
 * hex fields such as Lrcid "00000206" or DevAddr must stay strings.
 */
const NUMERIC_FIELDS = new Set([
  'FPort', 'FCntUp', 'FCntDn', 'ADRbit', 'ACKbit', 'MType', 'LrrRSSI', 'LrrSNR', 'LrrESP', 'SpFact',
  'DevLrrCnt', 'Late', 'LrrLAT', 'LrrLON', 'InstantPER', 'MeanPER', 'TxPower', 'NbTrans', 'Frequency',
  'DevLAT', 'DevLON', 'DevAlt', 'DevAcc', 'DevLocRadius', 'DevAltRadius', 'DevUlFCntUpUsedForLoc',
  'DevNorthVel', 'DevEastVel', 'DevLocDilution', 'DevAltDilution', 'Chain', 'DeliveryStatus',
  'TransmissionSlot', 'TransmissionStatus', 'LrrCnt', 'LrrSuccessCnt', 'LrrFailedCnt', 'McFCnt',
  'Occurrence', 'Acked', 'State', 'ID', 'Confirmed', 'FlushDownlinkQueue',
]); // prettier-ignore

/**
 * Fields ThingPark sends as a JSON text (always in XML, sometimes in JSON): typed JSON has them as
 * objects, so `{CustomerData.name}` placeholders and platform mappings can read them.
 */
const JSON_TEXT_FIELDS = new Set(['CustomerData', 'DriverCfg', 'BaseStationData']);
const MAX_JSON_TEXT = 64 * 1024;
const MAX_JSON_DEPTH = 32;

/** Sub-objects whose numeric fields are converted too; decoder output (`payload`, `points`) is left alone. */
const NESTED_RADIO = new Set(['Lrrs', 'Lrr']);

// Unambiguous (no nested quantifiers over the same digits): linear time on hostile input.
const NUMBER_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const MAX_NUMBER_TEXT = 64;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const CELLULAR_FIELDS = ['IMEI', 'IMSI', 'MSISDN', 'APN', 'ICCID'];
const LORA_RADIO_FIELDS = ['LrrRSSI', 'LrrSNR', 'SpFact', 'Lrrid', 'Lrrs', 'Lrcid', 'DevAddr', 'SubBand'];

export interface NormalisedDocument {
  document: ThingParkDocument;
  body: DocumentBody;
  info: DocumentInfo;
  /** The body as it arrived (before typing), for token verification. */
  rawBody: DocumentBody;
}

export interface NormaliseOptions {
  /** DevEUI known from elsewhere (an MQTT topic), used for root-less documents that lack one. */
  devEUIHint?: string;
  now?: () => Date;
}

/** Finds the document type and its body, with or without the root key (IoT Flow `sendMetadata` off). */
export function detectDocument(raw: unknown): { type: DocumentType; body: DocumentBody } | undefined {
  if (!isPlainObject(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length === 1 && isDocumentType(keys[0])) {
    const body = raw[keys[0]];
    return isPlainObject(body) ? { type: keys[0], body } : undefined;
  }
  const type = typeFromFields(raw);
  return type ? { type, body: raw } : undefined;
}

function typeFromFields(b: Record<string, unknown>): DocumentType | undefined {
  const has = (...names: string[]) => names.every((n) => n in b);
  if (has('DownlinkRejectionCause')) return 'DevEUI_downlink_Rejected';
  if (has('DeliveryStatus') && ('DeliveryFailedCause1' in b || 'TransmissionSlot' in b || has('FCntDn')))
    return 'DevEUI_downlink_Sent';
  if (has('TransmissionStatus') && ('LrrCnt' in b || 'LrrSuccessCnt' in b)) return 'DevEUI_multicast_summary';
  if (has('ID', 'State') && ('LrrID' in b || 'LrrId' in b) && !('DevEUI' in b)) return 'BS_alarm';
  if (has('ID', 'State', 'DevEUI')) return 'DevEUI_alarm';
  if (has('payload_hex') && ('FCntUp' in b || 'FPort' in b || 'Time' in b)) return 'DevEUI_uplink';
  if (has('DevEUI', 'Type') && !('payload_hex' in b)) return 'DevEUI_notification';
  if (has('DevEUI', 'DevLAT', 'DevLON') && !('payload_hex' in b)) return 'DevEUI_location';
  return undefined;
}

/**
 * Turns any accepted form (typed JSON, untyped JSON, XML-derived object, root-less) into typed JSON
 * with its root key, validates it, and describes it. Throws DocumentError with a clear reason.
 */
const NO_OPTIONS: NormaliseOptions = {};

export function normaliseDocument(raw: unknown, options: NormaliseOptions = NO_OPTIONS): NormalisedDocument {
  let detected = detectDocument(raw);
  if (!detected && isPlainObject(raw) && options.devEUIHint) {
    // IoT Flow's sendRawDecodedFormat sends only the decoder's output: the topic names the device.
    detected = { type: 'DevEUI_uplink', body: { DevEUI: options.devEUIHint, payload: raw } };
  }
  if (!detected) {
    throw new DocumentError(
      isPlainObject(raw)
        ? 'not a ThingPark document (unknown root or fields)'
        : 'document must be a JSON object',
      'unknown-type',
    );
  }
  const { type } = detected;
  const rawBody = detected.body;
  let body = typeFields(rawBody);
  if (body.DevEUI === undefined && options.devEUIHint && !TYPES_WITHOUT_DEVEUI.has(type)) {
    if (body === rawBody) body = copyFields(rawBody);
    body.DevEUI = options.devEUIHint;
  }
  validate(type, body);
  if (typeof body.DevEUI === 'string') {
    const upper = body.DevEUI.toUpperCase();
    if (upper !== body.DevEUI) {
      if (body === rawBody) body = copyFields(rawBody);
      body.DevEUI = upper;
    }
  }
  const info: DocumentInfo = {
    type,
    connectivity: connectivityOf(type, body),
    time: typeof body.Time === 'string' ? body.Time : (options.now?.() ?? new Date()).toISOString(),
  };
  if (typeof body.DevEUI === 'string') info.devEUI = body.DevEUI;
  if (typeof body.FPort === 'number') info.fPort = body.FPort + 0; // never -0: JSON has no negative zero
  if (typeof body.CorrelationID === 'string' && body.CorrelationID !== '')
    info.correlationId = body.CorrelationID;
  return { document: { [type]: body }, body, info, rawBody };
}

/**
 * The body with typed fields. Returns `obj` itself when nothing needs converting (the common case: a
 * document typed already, or one `uplink in` normalised), so a second pass costs no copy.
 */
function typeFields(obj: Record<string, unknown>): DocumentBody {
  // Only plain JSON objects are reused: another prototype could bring a toJSON of its own.
  const reusable = Object.getPrototypeOf(obj) === Object.prototype;
  let out: DocumentBody | undefined;
  // for-in rather than Object.keys: no array per body (this runs twice per uplink).
  for (const key in obj) {
    if (!hasOwn(obj, key)) continue;
    const value = obj[key];
    const typed = typedValue(key, value);
    if (out === undefined) {
      if (Object.is(typed, value) && reusable) continue; // Object.is: -0 becomes 0
      out = {};
      for (const earlier in obj) {
        if (earlier === key) break;
        if (hasOwn(obj, earlier)) setData(out, earlier, obj[earlier]);
      }
    }
    setData(out, key, typed);
  }
  return out ?? (reusable ? obj : {});
}

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

function typedValue(key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (JSON_TEXT_FIELDS.has(key)) return jsonTextValue(value);
    // `+ 0` turns "-0" into 0: JSON has no negative zero, and the document must survive a round trip.
    return NUMERIC_FIELDS.has(key) && value.length <= MAX_NUMBER_TEXT && NUMBER_RE.test(value.trim())
      ? Number(value.trim()) + 0
      : value;
  }
  // Not `value + 0`: that boxes every fractional number again (a new object per field, twice per uplink).
  if (typeof value === 'number') return value === 0 ? 0 : value;
  if (!NESTED_RADIO.has(key)) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const typed = value.map((v) => {
      const t = isPlainObject(v) ? typeFields(v) : v;
      if (t !== v) changed = true;
      return t;
    });
    return changed ? typed : value;
  }
  if (isPlainObject(value)) {
    return key === 'Lrrs' && isPlainObject(value.Lrr) ? { Lrr: [typeFields(value.Lrr)] } : typeFields(value);
  }
  return value;
}

/** The object a JSON text holds; any other text (not JSON, a bare number, too deep) stays as it is. */
function jsonTextValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.length > MAX_JSON_TEXT || !(trimmed.startsWith('{') || trimmed.startsWith('['))) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return text;
  }
  return depthWithin(parsed, MAX_JSON_DEPTH) ? parsed : text;
}

/** Whether an object or array nests at most `depth` levels (stops early: safe on hostile or circular values). */
export function depthWithin(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (depth === 0) return false;
  for (const child of Object.values(value)) if (!depthWithin(child, depth - 1)) return false;
  return true;
}

/** A copy of the body's own fields, to change without touching the original. */
function copyFields(obj: Record<string, unknown>): DocumentBody {
  const out: DocumentBody = {};
  for (const key of Object.keys(obj)) setData(out, key, obj[key]);
  return out;
}

/** A JSON key "__proto__" must stay data: assigning it would replace the object's prototype. */
function setData(out: DocumentBody, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else out[key] = value;
}

function validate(type: DocumentType, body: DocumentBody): void {
  const devEUI = body.DevEUI;
  if (devEUI === undefined || devEUI === '') {
    if (!TYPES_WITHOUT_DEVEUI.has(type)) throw new DocumentError(`${type} has no DevEUI`, 'missing-field');
  } else if (!isDevEUI(devEUI)) {
    throw new DocumentError(`DevEUI must be 16 hex digits, got ${describeValue(devEUI)}`, 'invalid-field');
  }
  if (body.FPort !== undefined) {
    const fPort = body.FPort;
    if (typeof fPort !== 'number' || !Number.isInteger(fPort) || fPort < 0 || fPort > 255) {
      throw new DocumentError(`FPort must be an integer 0-255, got ${describeValue(fPort)}`, 'invalid-field');
    }
  }
  if (body.payload_hex !== undefined) {
    const hex = body.payload_hex;
    if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
      throw new DocumentError(
        `payload_hex must be even-length hex, got ${describeValue(hex)}`,
        'invalid-field',
      );
    }
  }
  if (body.Time !== undefined && (typeof body.Time !== 'string' || Number.isNaN(Date.parse(body.Time)))) {
    throw new DocumentError(
      `Time must be an ISO 8601 date, got ${describeValue(body.Time)}`,
      'invalid-field',
    );
  }
}

function connectivityOf(type: DocumentType, body: DocumentBody): Connectivity {
  if (hasAny(body, CELLULAR_FIELDS)) return 'CELLULAR';
  if (typeof body.RAN === 'string' && body.RAN.toUpperCase() === 'CELLULAR') return 'CELLULAR';
  if (type === 'DevEUI_uplink' && 'payload_hex' in body && !hasAny(body, LORA_RADIO_FIELDS))
    return 'CELLULAR';
  return 'LORAWAN';
}

/** Whether `body` has one of `fields` (a loop, not `some`: no closure per document). */
function hasAny(body: DocumentBody, fields: readonly string[]): boolean {
  for (const f of fields) if (f in body) return true;
  return false;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
