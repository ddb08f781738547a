/**
 * ThingPark document → Cumulocity publishes (SmartREST static templates on `s/us/<childId>`, JSON via MQTT
 * for the raw frame). Pure: no clock unless a document lacks its own time (then `options.now`).
 * This file picks the mapping by document type and maps the uplink; the parts live beside it:
 * measurements.ts (`201`), events.ts (`400`, `402`, the JSON uplink event), alarms.ts (`301`-`306`),
 * operation-reports.ts (`505`/`506` from downlink reports). Templates: c8y-docs
 * `content/smartrest/mqtt-static-templates.md`.
 */
import { CumulocityError, MappingError } from '../errors';
import { mapBaseStationAlarm, mapDeviceAlarm } from './alarms';
import { mapLocation, mapNotification, positionLine, uplinkEvent } from './events';
import { device, isRecord, pack, timeOf } from './fields';
import { addRadio, decodedValues, MEASUREMENT_TYPE, measurementLines, SIGNAL_STRENGTH } from './measurements';
import { mapDownlinkReport } from './operation-reports';
import { smartRestTopic } from './smartrest';
import type { Body, Context, Group, MapperOptions, MapResult } from './types';

export type { MapperOptions, MapResult, OperationLookup, OperationOutcome } from './types';
export {
  ALARM_TYPE_PREFIX,
  BASE_STATION_ALARM_TYPE_PREFIX,
  BASE_STATION_ALARMS,
  DEVICE_ALARMS,
} from './alarms';
export { EVENT_TOPIC, NOTIFICATION_EVENT_TYPE, UPLINK_EVENT_TYPE } from './events';
export { MEASUREMENT_TYPE, ONTOLOGY_UNITS, SIGNAL_STRENGTH, seriesName, unitFor } from './measurements';
export { deliveryFailureReason } from './operation-reports';

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
