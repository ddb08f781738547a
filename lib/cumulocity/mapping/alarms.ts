/** Alarms: ThingPark device and base-station alarms as `301`-`304` / `306` lines. Pure. */
import { MappingError } from '../errors';
import { describe, device, numberValue, pack, text, timeOf } from './fields';
import { buildLine, smartRestTopic } from './smartrest';
import type { Body, Context, MapResult } from './types';

export const ALARM_TYPE_PREFIX = 'c8y_ThingParkAlarm_';
export const BASE_STATION_ALARM_TYPE_PREFIX = 'c8y_ThingParkBaseStationAlarm_';

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

const SEVERITY_NAMES: Readonly<Record<301 | 302 | 303 | 304, string>> = {
  301: 'CRITICAL',
  302: 'MAJOR',
  303: 'MINOR',
  304: 'WARNING',
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

export function mapDeviceAlarm(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  const id = alarmId(body, ctx);
  const type = `${ALARM_TYPE_PREFIX}${id.padded}`;
  const name = DEVICE_ALARMS[id.value] ?? 'Device alarm';
  const lines = alarmLines(body, type, `${name} (ThingPark alarm ${id.padded}${alarmDetails(body)})`, ctx);
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(smartRestTopic(childId), lines, ctx),
    warnings: ctx.warnings,
  };
}

export function mapBaseStationAlarm(body: Body, ctx: Context): MapResult {
  const id = alarmId(body, ctx);
  const lrr = text(body.LrrID ?? body.LrrId ?? body.Lrrid);
  if (lrr === undefined) throw new MappingError('missing-field', 'LrrID is required', ctx.type);
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(lrr))
    throw new MappingError('invalid-field', `LrrID ${JSON.stringify(lrr)}`, ctx.type);
  const type = `${BASE_STATION_ALARM_TYPE_PREFIX}${id.padded}_${lrr}`;
  const name = BASE_STATION_ALARMS[id.value] ?? 'Base station alarm';
  const lines = alarmLines(
    body,
    type,
    `${name} (base station ${lrr}, ThingPark alarm ${id.padded}${alarmDetails(body)})`,
    ctx,
  );
  return { documentType: ctx.type, publishes: pack(smartRestTopic(), lines, ctx), warnings: ctx.warnings };
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

/**
 * The raise line, then `305,<type>,<SEVERITY>`: Cumulocity keeps one active alarm per source and type and
 * takes a raise of an active one as a repeat (count + 1) that leaves its severity as it was, so a
 * changed severity must be set with 305. After a raise that created the alarm, the 305 sets the severity
 * it already has. Stateless on purpose: nothing to lose across restarts.
 */
function alarmLines(body: Body, type: string, description: string, ctx: Context): string[] {
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
  if (template === 306) return [buildLine(306, [type])];
  return [
    buildLine(template, [type, description, timeOf(body, ['LastUpdateTime', 'CreationTime', 'Time'], ctx)]),
    buildLine(305, [type, SEVERITY_NAMES[template]]),
  ];
}
