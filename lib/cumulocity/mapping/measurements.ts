/**
 * Measurements: radio quality (`c8y_SignalStrength`) and decoded values (`points`, numeric leaves of
 * `payload`) as `201` lines. Pure.
 *
 * `201,type,[time],fragment1,series1,value1,[unit1],…`: "List of 4 values per fragment-series
 * combination", the unit may be empty, so a group without unit still ends with its comma
 * (`…,c8y_SignalStrength,sf,7,`). Fragment and series names must not contain whitespace nor
 * `. , * [ ] ( ) @ $` (Cumulocity OpenAPI, measurement API, "Important" note): such characters become `_`.
 */
import { finite, isRecord, numberValue, optionalTime, packOptions } from './fields';
import { buildLine, fitsInPacket, formatField, type SmartRestValue } from './smartrest';
import type { Body, Context, Group } from './types';

export const SIGNAL_STRENGTH = 'c8y_SignalStrength';
export const MEASUREMENT_TYPE = 'c8y_ThingParkMeasurement';

/** Decoded values beyond this many per uplink are dropped (with a warning), nesting beyond MAX_DEPTH too. */
const MAX_VALUES = 2000;
const MAX_DEPTH = 8;

export function addRadio(
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

/**
 * A fragment/series name Cumulocity accepts: no whitespace nor `. , * [ ] ( ) @ $` (measurement API), nor
 * `/` and `'` (the inventory's fragment name rules), nor quotes or backslashes.
 */
export function seriesName(name: string): string {
  const cleaned = name.replace(/[\s.,*[\]()@$"'/\\\p{Cc}]/gu, '_');
  return cleaned === '' ? '_' : cleaned;
}

/**
 * Decoded values, grouped by time: `points` first (they carry units), then every numeric leaf of
 * `payload`. A point `name` gives fragment = series = name; a payload leaf gives fragment = its top-level
 * key and series = the rest of its path joined with `_` (the key itself for a top-level number), so a
 * point and the payload number it came from share one fragment/series and are sent once (the point
 * wins). Time-series points (`[{eventTime, value}]`) use their own eventTime when it is a valid time.
 */
export function decodedValues(body: Body, time: string, ctx: Context): Map<string, Group[]> {
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
export function measurementLines(
  topic: string,
  type: string,
  time: string,
  groups: readonly Group[],
  ctx: Context,
): string[] {
  if (ctx.options.legacyTemplates) return legacyLines(topic, time, groups, ctx);
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

/**
 * `200,fragment,series,value,unit,time`, one line per value: for tenants older than Cumulocity 10.18,
 * which refuse `201`. The measurement type is lost (200 has none).
 */
function legacyLines(topic: string, time: string, groups: readonly Group[], ctx: Context): string[] {
  const lines: string[] = [];
  for (const group of groups) {
    const line = buildLine(200, [group.fragment, group.series, group.value, group.unit, time]);
    if (fitsInPacket(topic, line, packOptions(ctx))) lines.push(line);
    else ctx.warnings.push(`value ${group.fragment}.${group.series} left out: too large for one publish`);
  }
  return lines;
}
