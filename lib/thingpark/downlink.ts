import { randomBytes } from 'crypto';
import { describeValue, DocumentError, type Connectivity, type DocumentBody } from './document-types';
import { isPlainObject } from './normalise';
import { signQuery } from './token';
import type { DownlinkRequest } from '../connection/downlink-request';

// The request type lives in lib/connection, the bottom layer, so that every layer can name it.
export type { DownlinkRequest };

/** LoRaWAN's largest application payload (DR with the biggest N, regional parameters). */
export const MAX_LORAWAN_PAYLOAD = 242;
/** ThingPark Cellular message mode: datagrams below 1400 bytes. */
export const MAX_CELLULAR_PAYLOAD = 1400;

export function newCorrelationId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** A number or a decimal string; anything else (objects, symbols, '0x10', true) is not a number here. */
const toInt = (value: unknown): number =>
  typeof value === 'number'
    ? value
    : typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value)
      ? Number(value)
      : NaN;

const flag = (value: unknown): boolean | undefined => {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  return value === 1 || value === '1' || (typeof value === 'string' && value.toLowerCase() === 'true');
};

/**
 * Validates `{"DevEUI_downlink":{…}}` (or its body) before anything is sent. Throws DocumentError
 * naming the problem. `allowDriverPayload` admits a `payload` object instead of payload_hex.
 */
export function parseDownlink(
  input: unknown,
  options: { connectivity?: Connectivity; allowDriverPayload?: boolean } = {},
): DownlinkRequest {
  if (!isPlainObject(input))
    throw new DocumentError('downlink must be an object {"DevEUI_downlink":{…}}', 'syntax');
  const body: DocumentBody = isPlainObject(input.DevEUI_downlink) ? input.DevEUI_downlink : input;
  if (body === input && !('DevEUI' in input)) {
    throw new DocumentError('expected {"DevEUI_downlink":{DevEUI, FPort, payload_hex}}', 'unknown-type');
  }
  const devEUI = body.DevEUI;
  if (typeof devEUI !== 'string' || !/^[0-9a-fA-F]{16}$/.test(devEUI)) {
    throw new DocumentError(`DevEUI must be 16 hex digits, got ${describeValue(devEUI)}`, 'invalid-field');
  }
  const cellular =
    options.connectivity === 'CELLULAR' ||
    (typeof body.RAN === 'string' && body.RAN.toUpperCase() === 'CELLULAR');
  const request: DownlinkRequest = {
    devEUI: devEUI.toUpperCase(),
    connectivity: cellular ? 'CELLULAR' : 'LORAWAN',
    correlationId:
      typeof body.CorrelationID === 'string' && body.CorrelationID ? body.CorrelationID : newCorrelationId(),
  };
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(request.correlationId)) {
    throw new DocumentError('CorrelationID must be up to 64 letters or digits', 'invalid-field');
  }
  if (!cellular) {
    const fPort = toInt(body.FPort);
    if (
      body.FPort === undefined ||
      body.FPort === '' ||
      !Number.isInteger(fPort) ||
      fPort < 1 ||
      fPort > 223
    ) {
      throw new DocumentError(
        `FPort must be an integer 1-223, got ${describeValue(body.FPort)}`,
        'invalid-field',
      );
    }
    request.fPort = fPort;
  }
  const hex = body.payload_hex ?? body.Payload;
  if (hex !== undefined) {
    if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
      throw new DocumentError(
        `payload_hex must be even-length hex, got ${describeValue(hex)}`,
        'invalid-field',
      );
    }
    const max = cellular ? MAX_CELLULAR_PAYLOAD : MAX_LORAWAN_PAYLOAD;
    if (hex.length / 2 > max) {
      throw new DocumentError(`payload of ${hex.length / 2} bytes exceeds ${max} bytes`, 'too-large');
    }
    request.payloadHex = hex.toLowerCase();
  } else if (options.allowDriverPayload && body.payload !== undefined) {
    request.payload = body.payload;
  } else {
    throw new DocumentError('payload_hex is missing', 'missing-field');
  }
  const confirmed = flag(body.Confirmed);
  if (confirmed !== undefined) request.confirmed = confirmed;
  const flush = flag(body.FlushDownlinkQueue);
  if (flush !== undefined) request.flushDownlinkQueue = flush;
  if (body.ValidityTime !== undefined && body.ValidityTime !== '') {
    if (typeof body.ValidityTime !== 'string' || Number.isNaN(Date.parse(body.ValidityTime))) {
      throw new DocumentError('ValidityTime must be an ISO 8601 date', 'invalid-field');
    }
    request.validityTime = body.ValidityTime;
  }
  if (body.FCntDn !== undefined && body.FCntDn !== '') {
    const fCntDn = toInt(body.FCntDn);
    if (!Number.isInteger(fCntDn) || fCntDn < 0)
      throw new DocumentError('FCntDn must be a counter', 'invalid-field');
    request.fCntDn = fCntDn;
  }
  return request;
}

/** The document form of a request, as published on IoT Flow's downlink topic. */
export function downlinkDocument(request: DownlinkRequest): { DevEUI_downlink: DocumentBody } {
  const body: DocumentBody = { DevEUI: request.devEUI };
  if (request.fPort !== undefined) body.FPort = request.fPort;
  if (request.payloadHex !== undefined) body.payload_hex = request.payloadHex;
  if (request.payload !== undefined) body.payload = request.payload;
  if (request.confirmed !== undefined) body.Confirmed = request.confirmed ? 1 : 0;
  if (request.flushDownlinkQueue !== undefined) body.FlushDownlinkQueue = request.flushDownlinkQueue ? 1 : 0;
  if (request.validityTime !== undefined) body.ValidityTime = request.validityTime;
  if (request.fCntDn !== undefined) body.FCntDn = request.fCntDn;
  if (request.connectivity === 'CELLULAR') body.RAN = 'CELLULAR';
  body.CorrelationID = request.correlationId;
  return { DevEUI_downlink: body };
}

/** ISO 8601 with milliseconds and a numeric offset, the form ThingPark's own examples use. */
export function thingparkTime(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

/**
 * The LRC downlink query (reference/thingpark.md "Downlink"): parameters in a stable order, Token
 * over the unencoded query, Token last.
 */
export function lrcDownlinkQuery(request: DownlinkRequest, asId: string, asKey: string, now = new Date()) {
  if (request.payloadHex === undefined) throw new DocumentError('the LRC needs payload_hex', 'missing-field');
  const params: [string, string][] = [['DevEUI', request.devEUI]];
  if (request.connectivity === 'CELLULAR') params.push(['RAN', 'CELLULAR'], ['MType', '0']);
  else params.push(['FPort', String(request.fPort)]);
  if (request.fCntDn !== undefined) params.push(['FCntDn', String(request.fCntDn)]);
  params.push(['Payload', request.payloadHex]);
  if (request.confirmed) params.push(['Confirmed', '1']);
  if (request.flushDownlinkQueue) params.push(['FlushDownlinkQueue', '1']);
  if (request.validityTime) params.push(['ValidityTime', request.validityTime]);
  params.push(['AS_ID', asId], ['Time', thingparkTime(now)], ['CorrelationID', request.correlationId]);
  return signQuery(params, asKey);
}
