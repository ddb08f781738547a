/**
 * Events: position (`402`), notifications (`400`) and the raw uplink as a JSON event on
 * `event/events/create` (c8y-docs `content/smartrest/json-via-mqtt.md`: same body as the REST API, `time`
 * mandatory; thin-edge sends child data with `"externalSource":{"externalId":…,"type":"c8y_Serial"}`,
 * c8y_mapper_ext/src/converter.rs tests). Pure.
 */
import { MappingError } from '../errors';
import { describe, device, numberValue, optionalTime, pack, packOptions, text, timeOf } from './fields';
import { buildLine, fitsInPacket, smartRestTopic, type Publish } from './smartrest';
import type { Body, Context, MapResult } from './types';

export const UPLINK_EVENT_TYPE = 'c8y_ThingParkUplink';
export const NOTIFICATION_EVENT_TYPE = 'c8y_ThingParkNotification';
export const EVENT_TOPIC = 'event/events/create';

export function mapLocation(body: Body, ctx: Context): MapResult {
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

export function mapNotification(body: Body, ctx: Context): MapResult {
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

/** `402,lat,lng,alt,acc,time`: DevLAT/DevLON (checked ranges), DevAlt, DevAcc or DevLocRadius, DevLocTime or the document time. */
export function positionLine(body: Body, time: string, ctx: Context): string {
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
export function uplinkEvent(
  body: Body,
  devEUI: string,
  childId: string,
  time: string,
  ctx: Context,
): Publish {
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
