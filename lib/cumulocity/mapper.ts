/**
 * ThingPark document → Cumulocity publishes (SmartREST static templates on `s/us/<childId>`, JSON via MQTT
 * for the raw frame). Pure: no clock unless a document lacks its own time (then `options.now`).
 *
 * Formats (c8y-docs `content/smartrest/mqtt-static-templates.md`):
 * - `201,type,[time],fragment1,series1,value1,[unit1],…`: "List of 4 values per fragment-series
 *   combination", the unit may be empty, so a group without unit still ends with its comma
 *   (`…,c8y_SignalStrength,sf,7,`).
 * - `402,latitude,longitude,altitude,accuracy[,time]` (location event + `c8y_Position` on the device).
 * - `400,eventType,text[,time]` (text mandatory). `301|302|303|304,type[,text][,time]`, `306,type`.
 * - `505,operationId,failureReason`, `506,operationId[,parameters]`.
 * JSON via MQTT (c8y-docs `content/smartrest/json-via-mqtt.md`): topic `event/events/create`, same body as
 * the REST API; `time` is mandatory for events. thin-edge sends child data with
 * `"externalSource":{"externalId":…,"type":"c8y_Serial"}` (c8y_mapper_ext/src/converter.rs tests).
 * Fragment and series names must not contain whitespace nor `. , * [ ] ( ) @ $` (Cumulocity OpenAPI,
 * measurement API, "Important" note): such characters become `_`.
 */
import { childIdFor } from './device-registration';
import { CumulocityError, MappingError } from './errors';
import {
  buildLine,
  fitsInPacket,
  formatField,
  MAX_PACKET_BYTES,
  packLines,
  smartRestTopic,
  type Publish,
  type SmartRestValue,
} from './smartrest';

export const SIGNAL_STRENGTH = 'c8y_SignalStrength';
export const MEASUREMENT_TYPE = 'c8y_ThingParkMeasurement';
export const UPLINK_EVENT_TYPE = 'c8y_ThingParkUplink';
export const NOTIFICATION_EVENT_TYPE = 'c8y_ThingParkNotification';
export const ALARM_TYPE_PREFIX = 'c8y_ThingParkAlarm_';
export const BASE_STATION_ALARM_TYPE_PREFIX = 'c8y_ThingParkBaseStationAlarm_';
export const EVENT_TOPIC = 'event/events/create';

/** Decoded values beyond this many per uplink are dropped (with a warning), nesting beyond MAX_DEPTH too. */
const MAX_VALUES = 2000;
const MAX_DEPTH = 8;

/** correlationId → Cumulocity operation id, as kept durably by the caller. */
export type OperationLookup =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((correlationId: string) => string | undefined);

export interface MapperOptions {
  /** Resolves the CorrelationID of DevEUI_downlink_Sent / _Rejected to the operation to close. */
  operationFor?: OperationLookup;
  /** Type of the measurement carrying decoded values (default `c8y_ThingParkMeasurement`). */
  measurementType?: string;
  /** MQTT packet limit (default 16184). */
  maxPacketBytes?: number;
  /** QoS the publisher uses (default 1); it changes the header size. */
  qos?: 0 | 1 | 2;
  /** Clock used only when a document has no time of its own (default: the system clock). */
  now?: () => Date;
}

export interface OperationOutcome {
  operationId: string;
  correlationId: string;
  status: 'SUCCESSFUL' | 'FAILED';
  reason?: string;
}

export interface MapResult {
  documentType: string;
  /** The child the publishes are about; undefined for the gateway itself (base-station alarms). */
  childId?: string;
  /** To publish in this order, on the connection of the child's gateway identity. */
  publishes: Publish[];
  /** For downlink reports: the operation this document finishes. */
  operation?: OperationOutcome;
  /** Why nothing was produced, when the document is valid but has nothing for Cumulocity. */
  skipped?: string;
  /** Parts of the document left out (bad optional fields, too many values…). */
  warnings: string[];
}

type Body = Readonly<Record<string, unknown>>;

interface Context {
  type: string;
  options: MapperOptions;
  warnings: string[];
}

interface Group {
  fragment: string;
  series: string;
  value: number;
  unit?: string;
}

/**
 * Maps one typed ThingPark document with its root key (`{"DevEUI_uplink":{…}}`). Throws only
 * MappingError (bad input) — never anything else.
 */
export function mapDocument(document: unknown, options: MapperOptions = {}): MapResult {
  if (!isRecord(document)) {
    throw new MappingError('not-a-document', 'expected an object with one ThingPark root key');
  }
  const keys = Object.keys(document);
  if (keys.length !== 1) {
    throw new MappingError('not-a-document', `expected exactly one root key, found ${keys.length}`);
  }
  const type = keys[0];
  const body = document[type];
  if (!isRecord(body)) throw new MappingError('not-a-document', `${type} is not an object`, type);
  const ctx: Context = { type, options, warnings: [] };
  try {
    switch (type) {
      case 'DevEUI_uplink':
        return mapUplink(body, ctx);
      case 'DevEUI_location':
        return mapLocation(body, ctx);
      case 'DevEUI_notification':
        return mapNotification(body, ctx);
      case 'DevEUI_alarm':
        return mapDeviceAlarm(body, ctx);
      case 'BS_alarm':
        return mapBaseStationAlarm(body, ctx);
      case 'DevEUI_downlink_Sent':
      case 'DevEUI_downlink_Rejected':
        return mapDownlinkReport(body, ctx);
      case 'DevEUI_multicast_summary':
      case 'DevEUI_downlink':
        return {
          documentType: type,
          publishes: [],
          skipped: `${type} has no Cumulocity mapping`,
          warnings: [],
        };
      default:
        throw new MappingError('not-a-document', `unknown root key ${JSON.stringify(type)}`);
    }
  } catch (err) {
    if (err instanceof MappingError) throw err;
    // A SmartREST / registration error from a helper is still bad input: report it as mapping error.
    if (err instanceof CumulocityError) throw new MappingError('invalid-field', err.message, type);
    throw err;
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* Document types                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

function mapUplink(body: Body, ctx: Context): MapResult {
  const { devEUI, childId } = device(body, ctx);
  const topic = smartRestTopic(childId);
  const time = timeOf(body, ['Time'], ctx);
  const lines: string[] = [];

  // Radio quality, as the official Actility agent and the LoRa framework report it (reference/cumulocity.md).
  const radio: Group[] = [];
  addRadio(radio, body, 'LrrRSSI', 'rssi', 'dBm', ctx);
  addRadio(radio, body, 'LrrSNR', 'snr', 'dB', ctx);
  addRadio(radio, body, 'SpFact', 'sf', undefined, ctx);
  if (radio.length > 0) lines.push(...measurementLines(topic, SIGNAL_STRENGTH, time, radio, ctx));

  for (const [valueTime, groups] of decodedValues(body, time, ctx)) {
    lines.push(
      ...measurementLines(topic, ctx.options.measurementType ?? MEASUREMENT_TYPE, valueTime, groups, ctx),
    );
  }

  if (body.DevLAT !== undefined || body.DevLON !== undefined) {
    try {
      lines.push(positionLine(body, time, ctx));
    } catch (err) {
      if (!(err instanceof MappingError)) throw err;
      ctx.warnings.push(`position left out: ${err.message}`);
    }
  }

  const publishes = pack(topic, lines, ctx);
  publishes.push(uplinkEvent(body, devEUI, childId, time, ctx));
  return { documentType: ctx.type, childId, publishes, warnings: ctx.warnings };
}

function mapLocation(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  if (body.DevLAT === undefined || body.DevLON === undefined) {
    throw new MappingError('missing-field', 'DevLAT and DevLON are required', ctx.type);
  }
  const time = timeOf(body, ['DevLocTime', 'Time'], ctx);
  const topic = smartRestTopic(childId);
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(topic, [positionLine(body, time, ctx)], ctx),
    warnings: ctx.warnings,
  };
}

function mapNotification(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  const time = timeOf(body, ['Time'], ctx);
  const kind = text(body.Type);
  const vars = ['Var1', 'Var2']
    .map((name) => (text(body[name]) !== undefined ? `${name}=${text(body[name])}` : undefined))
    .filter((v): v is string => v !== undefined);
  const description =
    `ThingPark notification${kind !== undefined ? ` ${kind}` : ''}` +
    (vars.length ? ` (${vars.join(', ')})` : '');
  const topic = smartRestTopic(childId);
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(topic, [buildLine(400, [NOTIFICATION_EVENT_TYPE, description, time])], ctx),
    warnings: ctx.warnings,
  };
}

/**
 * Device alarm 0xx → Cumulocity alarm of type `c8y_ThingParkAlarm_<ID, 3 digits>` (Cumulocity keeps one
 * active alarm per source and type, so each ThingPark alarm ID is its own type and is cleared alone).
 *
 * Severity from `State`. ThingPark documents alarm states as "cleared (1) or uncleared (2-6)", uncleared
 * giving the severity, with 1 CLEARED, 3 WARNING, 4 MINOR, 5 MAJOR listed (docs.thingpark.com, ThingPark
 * Enterprise API, network-manager/alarms); 2 and 6 are INDETERMINATE and CRITICAL (the same X.733 order,
 * and the states the device-manager alarm pages name). Mapping:
 *   1 CLEARED → `306,<type>`; 2 INDETERMINATE → 304 WARNING (Cumulocity has no "indeterminate");
 *   3 WARNING → 304; 4 MINOR → 303; 5 MAJOR → 302; 6 CRITICAL → 301.
 * The state names themselves are accepted too. Any other State is rejected (invalid-field).
 */
const SEVERITY_BY_STATE: Readonly<Record<string, 301 | 302 | 303 | 304 | 306>> = {
  '1': 306,
  '2': 304,
  '3': 304,
  '4': 303,
  '5': 302,
  '6': 301,
  CLEARED: 306,
  INDETERMINATE: 304,
  WARNING: 304,
  MINOR: 303,
  MAJOR: 302,
  CRITICAL: 301,
};

/** Device alarm names (docs.thingpark.com, ThingPark Enterprise, "Management of alarms' occurrences"). */
export const DEVICE_ALARMS: Readonly<Record<number, string>> = {
  1: 'Battery level threshold',
  2: 'Traffic exceeds the downlink regulator settings',
  3: 'Traffic exceeds the uplink regulator settings',
  4: 'No uplink activity',
  5: 'Node uses higher data rate than expected',
  6: 'Node uses lower data rate than expected',
  7: 'Join request replay detected (DevNonce replay)',
  8: 'Wrong MIC detected in Join request',
  9: 'Join request replay detected (wrong MIC correlation)',
  10: 'Uplink frame replay detected (wrong FCnt)',
  11: 'Uplink frame replay detected (repeated FCnt)',
  12: 'MAC command transmission blocked because of rejection',
  13: 'MAC command transmission blocked because of no reply',
  14: 'Invalid AppEUI detected in Join request',
  15: 'Join request replay detected (invalid DevNonce)',
  16: 'Wrong MIC detected in Uplink frame',
};

/** Base-station alarm names (docs.thingpark.com, ThingPark Enterprise API, network-manager/alarms). */
export const BASE_STATION_ALARMS: Readonly<Record<number, string>> = {
  101: 'LRR software restarted by watchdog',
  102: 'Base station connection status',
  106: 'Unusually high CPU usage level',
  107: 'Unusually high RAM usage level',
};

function mapDeviceAlarm(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  const id = alarmId(body, ctx);
  const type = `${ALARM_TYPE_PREFIX}${id.padded}`;
  const name = DEVICE_ALARMS[id.value] ?? 'Device alarm';
  const line = alarmLine(body, type, `${name} (ThingPark alarm ${id.padded}${alarmDetails(body)})`, ctx);
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(smartRestTopic(childId), [line], ctx),
    warnings: ctx.warnings,
  };
}

function mapBaseStationAlarm(body: Body, ctx: Context): MapResult {
  const id = alarmId(body, ctx);
  const lrr = text(body.LrrID ?? body.LrrId ?? body.Lrrid);
  if (lrr === undefined) throw new MappingError('missing-field', 'LrrID is required', ctx.type);
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(lrr))
    throw new MappingError('invalid-field', `LrrID ${JSON.stringify(lrr)}`, ctx.type);
  const type = `${BASE_STATION_ALARM_TYPE_PREFIX}${id.padded}_${lrr}`;
  const name = BASE_STATION_ALARMS[id.value] ?? 'Base station alarm';
  const line = alarmLine(
    body,
    type,
    `${name} (base station ${lrr}, ThingPark alarm ${id.padded}${alarmDetails(body)})`,
    ctx,
  );
  return { documentType: ctx.type, publishes: pack(smartRestTopic(), [line], ctx), warnings: ctx.warnings };
}

function alarmId(body: Body, ctx: Context): { value: number; padded: string } {
  if (body.ID === undefined || body.ID === null || body.ID === '') {
    throw new MappingError('missing-field', 'ID is required', ctx.type);
  }
  const value = numberValue(body.ID);
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 99999) {
    throw new MappingError('invalid-field', `alarm ID ${describe(body.ID)}`, ctx.type);
  }
  return { value, padded: String(value).padStart(3, '0') };
}

function alarmDetails(body: Body): string {
  const info = text(body.AddInfo1);
  const occurrence = numberValue(body.Occurrence);
  return (
    (info !== undefined ? `, info ${info}` : '') +
    (occurrence !== undefined && occurrence > 1 ? `, ${occurrence} occurrences` : '')
  );
}

function alarmLine(body: Body, type: string, description: string, ctx: Context): string {
  const state = body.State;
  const key =
    typeof state === 'string' ? state.trim().toUpperCase() : typeof state === 'number' ? String(state) : '';
  const template = SEVERITY_BY_STATE[key];
  if (template === undefined) {
    if (state === undefined || state === null || state === '') {
      throw new MappingError('missing-field', 'State is required', ctx.type);
    }
    throw new MappingError('invalid-field', `alarm State ${describe(state)} (expected 1-6)`, ctx.type);
  }
  if (template === 306) return buildLine(306, [type]);
  return buildLine(template, [
    type,
    description,
    timeOf(body, ['LastUpdateTime', 'CreationTime', 'Time'], ctx),
  ]);
}

/**
 * Over-the-air failure causes per slot (actility/tpx-iot-flow-doc `docs/Message/Downlink_Message`, table
 * of DeliveryFailedCause1/2/3). `00` means no error on that slot.
 */
const COMMON_CAUSES: Readonly<Record<string, string>> = {
  A0: 'Radio stopped',
  A1: 'Downlink radio stopped',
  A2: 'Ping slot not available',
  A3: 'Radio busy',
  A4: 'Listen before talk',
  A5: 'Radio board error',
  B0: 'Too late',
  C0: 'LRC selected RX2',
  D0: 'Duty cycle constraint detected by LRR',
  DA: 'Duty cycle constraint detected by LRC',
  DB: 'Max dwell time constraint detected by the LRC',
  DC: 'No GPS-synchronized LRR detected by the LRC',
  DD: 'No LRR connected detected by the LRC',
  DE: 'DC not allowed by the peering operator',
  DF: 'Wrong NetID',
  E0: 'Max delay for Class C (60 seconds)',
};
const SLOTS: readonly { field: string; slot: string; overrides: Readonly<Record<string, string>> }[] = [
  { field: 'DeliveryFailedCause1', slot: 'RX1', overrides: { B0: 'Too late for RX1' } },
  { field: 'DeliveryFailedCause2', slot: 'RX2', overrides: { B0: 'Too late for RX2' } },
  { field: 'DeliveryFailedCause3', slot: 'ping slot', overrides: { B0: 'Too late for ping slot' } },
];

/** Human reason for a DevEUI_downlink_Sent with DeliveryStatus 0, e.g. `Not sent over the air (RX1: B0 Too late for RX1)`. */
export function deliveryFailureReason(body: Body): string {
  const causes: string[] = [];
  for (const { field, slot, overrides } of SLOTS) {
    const code = text(body[field])?.trim().toUpperCase();
    if (code === undefined || code === '' || code === '00') continue;
    const meaning = overrides[code] ?? COMMON_CAUSES[code];
    causes.push(`${slot}: ${code}${meaning ? ` ${meaning}` : ''}`);
  }
  return causes.length ? `Not sent over the air (${causes.join('; ')})` : 'Not sent over the air';
}

function mapDownlinkReport(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  const correlationId = text(body.CorrelationID);
  if (correlationId === undefined || correlationId.trim() === '') {
    return {
      documentType: ctx.type,
      childId,
      publishes: [],
      skipped: 'no CorrelationID',
      warnings: ctx.warnings,
    };
  }
  const operationId = lookupOperation(ctx.options.operationFor, correlationId);
  if (operationId === undefined) {
    return {
      documentType: ctx.type,
      childId,
      publishes: [],
      skipped: `no operation known for CorrelationID ${correlationId}`,
      warnings: ctx.warnings,
    };
  }
  let outcome: OperationOutcome;
  if (ctx.type === 'DevEUI_downlink_Rejected') {
    const cause = text(body.DownlinkRejectionCause);
    outcome = {
      operationId,
      correlationId,
      status: 'FAILED',
      reason: cause ? `Rejected by ThingPark: ${cause}` : 'Rejected by ThingPark',
    };
  } else {
    const status = numberValue(body.DeliveryStatus);
    if (status === 1) outcome = { operationId, correlationId, status: 'SUCCESSFUL' };
    else if (status === 0) {
      outcome = { operationId, correlationId, status: 'FAILED', reason: deliveryFailureReason(body) };
    } else {
      throw new MappingError(
        'invalid-field',
        `DeliveryStatus ${describe(body.DeliveryStatus)} (expected 0 or 1)`,
        ctx.type,
      );
    }
  }
  const line =
    outcome.status === 'SUCCESSFUL'
      ? buildLine(506, [operationId])
      : buildLine(505, [operationId, outcome.reason]);
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(smartRestTopic(childId), [line], ctx),
    operation: outcome,
    warnings: ctx.warnings,
  };
}

function lookupOperation(lookup: OperationLookup | undefined, correlationId: string): string | undefined {
  if (!lookup) return undefined;
  const candidates = [correlationId, correlationId.toUpperCase(), correlationId.toLowerCase()];
  for (const key of candidates) {
    let found: unknown;
    if (typeof lookup === 'function') found = lookup(key);
    else if (lookup instanceof Map) found = lookup.get(key);
    else found = Object.hasOwn(lookup, key) ? (lookup as Record<string, unknown>)[key] : undefined;
    if (typeof found === 'string' && found !== '') return found;
    if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  }
  return undefined;
}

/* ------------------------------------------------------------------------------------------------ */
/* Uplink parts                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

function addRadio(
  groups: Group[],
  body: Body,
  field: string,
  series: string,
  unit: string | undefined,
  ctx: Context,
): void {
  const raw = body[field];
  if (raw === undefined || raw === null || raw === '') return;
  const value = numberValue(raw);
  if (value === undefined) {
    ctx.warnings.push(`${field} left out: not a number`);
    return;
  }
  groups.push({ fragment: SIGNAL_STRENGTH, series, value, unit });
}

/**
 * Ontology units of IoT Flow points: unitId → symbol (actility/thingpark-iot-flow-driver-catalogue
 * UNITS.md). An unknown unitId is used as the unit text itself.
 */
export const ONTOLOGY_UNITS: Readonly<Record<string, string>> = {
  A: 'A', Ah: 'Ah', bar: 'bar', Bq: 'Bq', Bspl: 'bel', bit: 'bit', 'bit/s': 'bit/s', cd: 'cd',
  'cd/m2': 'cd/m²', Cel: '°C', cm: 'cm', C: 'C', 'count/s': 'count/s', 'count/min': 'count/min',
  m3: 'm³', 'm3/h': 'm³/h', 'm3/s': 'm³/s', dB: 'dB', dBm: 'dBm', dBW: 'dBW', deg: '°', dps: 'dps',
  dop: 'dop', euro: '€', 'euro/Wh': '€/Wh', Far: '°F', F: 'F', GW: 'GW', g: 'g', gravity: 'G', Gy: 'Gy',
  hPa: 'hPa', H: 'H', hertz: 'Hz', hour: 'h', J: 'J', kat: 'kat', K: 'K', kg: 'kg', km: 'km',
  'km/h': 'km/h', kPa: 'kPa', kW: 'kW', kWh: 'kWh', l: 'l', 'l/s': 'l/s', lm: 'lm', lx: 'lx', MW: 'MW',
  MWh: 'MWh', 'MW/m': 'MW/m', m: 'm', 'm/s': 'm/s', 'm/s2': 'm/s²', ug: 'µg', 'ug/m3': 'µg/m³', um: 'µm',
  'umol/m2.s': 'µmol/m².s', 'uS/cm': 'µS/cm', uV: 'µV', mA: 'mA', mAh: 'mAh', mbar: 'mbar', ml: 'ml',
  mm: 'mm', 'mm/s': 'mm/s', 'mm/h': 'mm/h', ms: 'ms', 'mS/cm': 'mS/cm', mV: 'mV', minute: 'min',
  mol: 'mol', N: 'N', ntu: 'ntu', okta: 'okta', Ohm: 'Ω', ppb: 'ppb', ppm: 'ppm', Pa: 'Pa', '%': '%',
  '%RH': '%RH', pH: 'pH', 'pulse/h': 'pulse/h', rad: 'rad', '/': '', rpm: 'rpm', s: 's', S: 'S',
  'S/m': 'S/m', Sv: 'Sv', m2: 'm²', sr: 'sr', T: 'T', VA: 'VA', VAh: 'VAh', var: 'var', varh: 'varh',
  V: 'V', W: 'W', 'W/h': 'W/h', 'W/s': 'W/s', 'W/m2': 'W/m²', Wh: 'Wh', Wb: 'Wb',
}; // prettier-ignore

export function unitFor(unitId: unknown): string | undefined {
  if (typeof unitId !== 'string' || unitId === '') return undefined;
  return Object.hasOwn(ONTOLOGY_UNITS, unitId) ? ONTOLOGY_UNITS[unitId] : unitId;
}

/** A fragment/series name Cumulocity accepts: no whitespace nor `. , * [ ] ( ) @ $` (nor quotes/backslashes). */
export function seriesName(name: string): string {
  const cleaned = name.replace(/[\s.,*[\]()@$"\\\p{Cc}]/gu, '_');
  return cleaned === '' ? '_' : cleaned;
}

/**
 * Decoded values, grouped by time: `points` first (they carry units), then every numeric leaf of
 * `payload`. A point `name` gives fragment = series = name; a payload leaf gives fragment = its top-level
 * key and series = the rest of its path joined with `_` (the key itself for a top-level number), so a
 * point and the payload number it came from share one fragment/series and are sent once (the point
 * wins). Time-series points (`[{eventTime, value}]`) use their own eventTime when it is a valid time.
 */
function decodedValues(body: Body, time: string, ctx: Context): Map<string, Group[]> {
  const byTime = new Map<string, Group[]>();
  const seen = new Set<string>();
  let dropped = 0;
  const add = (at: string, group: Group): void => {
    const key = `${at}\u0000${group.fragment}\u0000${group.series}`;
    if (seen.has(key)) return;
    if (seen.size >= MAX_VALUES) {
      dropped++;
      return;
    }
    seen.add(key);
    let list = byTime.get(at);
    if (!list) byTime.set(at, (list = []));
    list.push(group);
  };

  const points = body.points;
  if (isRecord(points)) {
    for (const [name, point] of Object.entries(points)) {
      const fragment = seriesName(name);
      if (isRecord(point)) {
        const value = finite(point.record);
        if (value !== undefined)
          add(time, { fragment, series: fragment, value, unit: unitFor(point.unitId) });
      } else if (Array.isArray(point)) {
        for (const entry of point) {
          if (!isRecord(entry)) continue;
          const value = finite(entry.value ?? entry.record);
          if (value === undefined) continue;
          add(optionalTime(entry.eventTime) ?? time, {
            fragment,
            series: fragment,
            value,
            unit: unitFor(entry.unitId),
          });
        }
      }
    }
  }

  const payload = body.payload;
  if (isRecord(payload)) {
    const walk = (value: unknown, path: string[]): void => {
      const number = finite(value);
      if (number !== undefined) {
        const fragment = seriesName(path[0]);
        const series = path.length === 1 ? fragment : path.slice(1).map(seriesName).join('_');
        add(time, { fragment, series, value: number });
        return;
      }
      if (path.length >= MAX_DEPTH) return;
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, String(i)]));
      else if (isRecord(value)) for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    };
    for (const [key, value] of Object.entries(payload)) walk(value, [key]);
  }
  if (dropped > 0) ctx.warnings.push(`${dropped} decoded values left out (more than ${MAX_VALUES})`);
  return byTime;
}

/**
 * `201` lines for one measurement: as many groups per line as fit in one publish; more lines (same type
 * and time) only when they do not. A group too large for a line of its own is left out with a warning.
 */
function measurementLines(
  topic: string,
  type: string,
  time: string,
  groups: readonly Group[],
  ctx: Context,
): string[] {
  const head = buildLine(201, [type, time]);
  const limit = packOptions(ctx);
  const lines: string[] = [];
  let line = head;
  let count = 0;
  for (const group of groups) {
    const segment =
      ',' +
      [group.fragment, group.series, group.value, group.unit]
        .map((v: SmartRestValue) => formatField(v))
        .join(',');
    if (!fitsInPacket(topic, head + segment, limit)) {
      ctx.warnings.push(`value ${group.fragment}.${group.series} left out: too large for one publish`);
      continue;
    }
    if (count > 0 && !fitsInPacket(topic, line + segment, limit)) {
      lines.push(line);
      line = head;
      count = 0;
    }
    line += segment;
    count++;
  }
  if (count > 0) lines.push(line);
  return lines;
}

/** `402,lat,lng,alt,acc,time`: DevLAT/DevLON (checked ranges), DevAlt, DevAcc or DevLocRadius, DevLocTime or the document time. */
function positionLine(body: Body, time: string, ctx: Context): string {
  const lat = numberValue(body.DevLAT);
  const lng = numberValue(body.DevLON);
  if (lat === undefined || lng === undefined || Math.abs(lat) > 90 || Math.abs(lng) > 180) {
    throw new MappingError(
      'invalid-field',
      `position ${describe(body.DevLAT)}, ${describe(body.DevLON)}`,
      ctx.type,
    );
  }
  const alt = numberValue(body.DevAlt);
  const acc = numberValue(body.DevAcc) ?? numberValue(body.DevLocRadius);
  const at = ctx.type === 'DevEUI_location' ? time : (optionalTime(body.DevLocTime) ?? time);
  return buildLine(402, [lat, lng, alt, acc, at]);
}

/** The raw frame as a JSON event on `event/events/create`, addressed to the child by external id. */
function uplinkEvent(body: Body, devEUI: string, childId: string, time: string, ctx: Context): Publish {
  const frame: Record<string, string | number> = {};
  for (const key of ['DevEUI', 'FPort', 'FCntUp', 'payload_hex', 'Lrrid']) {
    const value = key === 'DevEUI' ? devEUI : body[key];
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))
      frame[key] = value;
  }
  const fPort = text(body.FPort);
  const fCnt = text(body.FCntUp);
  const event = {
    type: UPLINK_EVENT_TYPE,
    text: `ThingPark uplink${fPort !== undefined ? ` FPort ${fPort}` : ''}${fCnt !== undefined ? ` FCntUp ${fCnt}` : ''}`,
    time,
    externalSource: { externalId: childId, type: 'c8y_Serial' },
    [UPLINK_EVENT_TYPE]: frame,
  };
  const payload = JSON.stringify(event);
  if (!fitsInPacket(EVENT_TOPIC, payload, packOptions(ctx))) {
    throw new MappingError('too-large', `uplink event of ${Buffer.byteLength(payload)} bytes`, ctx.type);
  }
  return { topic: EVENT_TOPIC, payload };
}

/* ------------------------------------------------------------------------------------------------ */
/* Helpers                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

function packOptions(ctx: Context): { maxPacketBytes: number; qos: 0 | 1 | 2 } {
  return { maxPacketBytes: ctx.options.maxPacketBytes ?? MAX_PACKET_BYTES, qos: ctx.options.qos ?? 1 };
}

function pack(topic: string, lines: readonly string[], ctx: Context): Publish[] {
  try {
    return packLines(topic, lines, packOptions(ctx));
  } catch (err) {
    if (err instanceof CumulocityError) throw new MappingError('too-large', err.message, ctx.type);
    throw err;
  }
}

function device(body: Body, ctx: Context): { devEUI: string; childId: string } {
  const devEUI = body.DevEUI;
  if (devEUI === undefined || devEUI === null || devEUI === '') {
    throw new MappingError('missing-field', 'DevEUI is required', ctx.type);
  }
  if (typeof devEUI !== 'string' || !/^[0-9a-fA-F]{16}$/.test(devEUI)) {
    throw new MappingError('invalid-field', `DevEUI ${describe(devEUI)} (expected 16 hex digits)`, ctx.type);
  }
  return { devEUI, childId: childIdFor(devEUI) };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function optionalTime(value: unknown): string | undefined {
  return typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))
    ? value
    : undefined;
}

/**
 * The document's own time, as written (first present of `fields`). An invalid time is an error; a
 * document with none gets `options.now()` so SmartREST lines and the JSON event (where `time` is
 * mandatory) agree.
 */
function timeOf(body: Body, fields: readonly string[], ctx: Context): string {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A number, or a numeric string (untyped JSON). */
function numberValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return `a ${Array.isArray(value) ? 'list' : typeof value}`;
}
