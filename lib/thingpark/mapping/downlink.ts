import { randomBytes } from 'crypto';
import {
  describeValue,
  DocumentError,
  isDevEUI,
  type Connectivity,
  type DocumentBody,
} from './document-types';
import { depthWithin, isPlainObject } from './normalise';
import { signQuery } from './token';
import type { DownlinkRequest } from '../../connection/downlink-request';

export type { DownlinkRequest };

/** Where a downlink goes: the LRC downlink API (Basic HTTPS) or an IoT Flow MQTT downlink topic. */
export type DownlinkTarget = 'lrc' | 'iotflow';

/** LoRaWAN's largest application payload (DR with the biggest N, regional parameters). */
export const MAX_LORAWAN_PAYLOAD = 242;
/** ThingPark Cellular message mode: datagrams below 1400 bytes. */
export const MAX_CELLULAR_PAYLOAD = 1400;
const MAX_UINT32 = 0xffffffff;
/** How deep a driver payload or DriverCfg may nest: it is published as JSON. */
const MAX_DEPTH = 64;
/** An ISO 8601 date and time with seconds and an offset, the form ThingPark documents and sends. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const isIsoDateTime = (value: unknown): value is string =>
  typeof value === 'string' && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));

/**
 * The fields of a `DevEUI_downlink` (actility/tpx-iot-flow-doc docs/Message/downlink-message.md, plus
 * `RAN`/`MType` of ThingPark Cellular and the LRC's `Payload` name), and those only IoT Flow takes.
 */
const KNOWN_FIELDS = new Set([
  'DevEUI', 'FPort', 'payload_hex', 'Payload', 'payload', 'Confirmed', 'FlushDownlinkQueue', 'ValidityTime',
  'FCntDn', 'AFCntDn', 'RetryIneligibleGateways', 'CorrelationID', 'DriverCfg', 'Time', 'AS_ID', 'RAN', 'MType',
]); // prettier-ignore
const IOT_FLOW_ONLY = ['payload', 'DriverCfg', 'AS_ID'];

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

const present = (value: unknown) => value !== undefined && value !== '';

function counter(body: DocumentBody, name: string): number | undefined {
  if (!present(body[name])) return undefined;
  const value = toInt(body[name]);
  if (!Number.isInteger(value) || value < 0 || value > MAX_UINT32) {
    throw new DocumentError(
      `${name} must be a 32-bit counter, got ${describeValue(body[name])}`,
      'invalid-field',
    );
  }
  return value;
}

export interface ParseDownlinkOptions {
  connectivity?: Connectivity;
  /** Admits a driver `payload` object instead of payload_hex (implied by target `iotflow`). */
  allowDriverPayload?: boolean;
  /**
   * Where it will be sent. When given, the request is held to that path's documented fields: an
   * unknown field, or one the path does not take, is refused by name; FPort 1-224 to IoT Flow.
   */
  target?: DownlinkTarget;
}

/**
 * Validates `{"DevEUI_downlink":{…}}` (or its body) before anything is sent. Throws DocumentError
 * naming the problem.
 */
export function parseDownlink(input: unknown, options: ParseDownlinkOptions = {}): DownlinkRequest {
  if (!isPlainObject(input))
    throw new DocumentError('downlink must be an object {"DevEUI_downlink":{…}}', 'syntax');
  const body: DocumentBody = isPlainObject(input.DevEUI_downlink) ? input.DevEUI_downlink : input;
  if (body === input && !('DevEUI' in input)) {
    throw new DocumentError('expected {"DevEUI_downlink":{DevEUI, FPort, payload_hex}}', 'unknown-type');
  }
  const target = options.target;
  if (target) checkFields(body, target);
  const allowDriverPayload = options.allowDriverPayload || target === 'iotflow';
  const devEUI = body.DevEUI;
  if (!isDevEUI(devEUI)) {
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
    const maxPort = target === 'iotflow' ? 224 : 223;
    const fPort = toInt(body.FPort);
    if (!present(body.FPort) || !Number.isInteger(fPort) || fPort < 1 || fPort > maxPort) {
      throw new DocumentError(
        `FPort must be an integer 1-${maxPort}, got ${describeValue(body.FPort)}`,
        'invalid-field',
      );
    }
    request.fPort = fPort;
  }
  const hex = body.payload_hex ?? body.Payload;
  if (target && hex !== undefined && body.payload !== undefined) {
    throw new DocumentError('payload_hex and payload cannot both be given', 'invalid-field');
  }
  if (hex !== undefined) {
    if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
      throw new DocumentError(
        `payload_hex must be even-length hex, got ${describeValue(hex)}`,
        'invalid-field',
      );
    }
    if (target && hex === '') {
      throw new DocumentError('payload_hex is empty: ThingPark takes at least one byte', 'invalid-field');
    }
    const max = cellular ? MAX_CELLULAR_PAYLOAD : MAX_LORAWAN_PAYLOAD;
    if (hex.length / 2 > max) {
      throw new DocumentError(`payload of ${hex.length / 2} bytes exceeds ${max} bytes`, 'too-large');
    }
    request.payloadHex = hex.toLowerCase();
  } else if (allowDriverPayload && body.payload !== undefined) {
    // Checked when it is about to be published (a platform's own parser passes it on as it came).
    if (target && !depthWithin(body.payload, MAX_DEPTH)) {
      throw new DocumentError(`payload is nested more than ${MAX_DEPTH} levels deep`, 'invalid-field');
    }
    request.payload = body.payload;
  } else {
    throw new DocumentError('payload_hex is missing', 'missing-field');
  }
  const confirmed = flag(body.Confirmed);
  if (confirmed !== undefined) request.confirmed = confirmed;
  const flush = flag(body.FlushDownlinkQueue);
  if (flush !== undefined) request.flushDownlinkQueue = flush;
  const retry = flag(body.RetryIneligibleGateways);
  if (retry !== undefined) request.retryIneligibleGateways = retry;
  if (present(body.ValidityTime)) request.validityTime = validityTime(body.ValidityTime);
  const fCntDn = counter(body, 'FCntDn');
  if (fCntDn !== undefined) request.fCntDn = fCntDn;
  const aFCntDn = counter(body, 'AFCntDn');
  if (aFCntDn !== undefined) request.aFCntDn = aFCntDn;
  if (present(body.Time)) {
    if (!isIsoDateTime(body.Time)) {
      throw new DocumentError(
        `Time must be an ISO 8601 date, got ${describeValue(body.Time)}`,
        'invalid-field',
      );
    }
    request.time = body.Time;
  }
  if (body.DriverCfg !== undefined) request.driverCfg = driverCfg(body.DriverCfg);
  if (present(body.AS_ID)) {
    if (typeof body.AS_ID !== 'string') throw new DocumentError('AS_ID must be text', 'invalid-field');
    request.asId = body.AS_ID;
  }
  return request;
}

/** Refuses what the target does not take, naming the field, rather than dropping it. */
function checkFields(body: DocumentBody, target: DownlinkTarget): void {
  for (const key of Object.keys(body)) {
    if (key === 'AS_KEY') {
      throw new DocumentError(
        'AS_KEY is not sent in a downlink message: the key stays in the ThingPark connection',
        'invalid-field',
      );
    }
    if (!KNOWN_FIELDS.has(key)) {
      throw new DocumentError(`unknown field ${describeValue(key)} in DevEUI_downlink`, 'invalid-field');
    }
    if (target === 'lrc' && IOT_FLOW_ONLY.includes(key)) {
      throw new DocumentError(`${key} is only taken over an IoT Flow MQTT connection`, 'invalid-field');
    }
  }
}

/** ValidityTime: an ISO 8601 date (kept as text) or a duration in whole seconds (a number). */
function validityTime(value: unknown): string | number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value))) {
    const seconds = toInt(value);
    if (Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_UINT32) return seconds;
  } else if (isIsoDateTime(value)) {
    return value;
  }
  throw new DocumentError(
    `ValidityTime must be an ISO 8601 date or a number of seconds, got ${describeValue(value)}`,
    'invalid-field',
  );
}

function driverCfg(value: unknown): Record<string, unknown> {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value) as unknown;
    } catch {
      parsed = undefined;
    }
  }
  if (!isPlainObject(parsed) || !depthWithin(parsed, MAX_DEPTH)) {
    throw new DocumentError('DriverCfg must be an object', 'invalid-field');
  }
  return parsed;
}

/** The document form of a request, as `downlink in` emits it and `downlink out` reports it. */
export function downlinkDocument(request: DownlinkRequest): { DevEUI_downlink: DocumentBody } {
  const body: DocumentBody = {};
  if (request.time !== undefined) body.Time = request.time;
  body.DevEUI = request.devEUI;
  if (request.fPort !== undefined) body.FPort = request.fPort;
  if (request.payloadHex !== undefined) body.payload_hex = request.payloadHex;
  if (request.payload !== undefined) body.payload = request.payload;
  if (request.confirmed !== undefined) body.Confirmed = request.confirmed ? 1 : 0;
  if (request.flushDownlinkQueue !== undefined) body.FlushDownlinkQueue = request.flushDownlinkQueue ? 1 : 0;
  if (request.validityTime !== undefined) body.ValidityTime = request.validityTime;
  if (request.fCntDn !== undefined) body.FCntDn = request.fCntDn;
  if (request.aFCntDn !== undefined) body.AFCntDn = request.aFCntDn;
  if (request.retryIneligibleGateways !== undefined)
    body.RetryIneligibleGateways = request.retryIneligibleGateways ? 1 : 0;
  if (request.driverCfg !== undefined) body.DriverCfg = request.driverCfg;
  if (request.asId !== undefined) body.AS_ID = request.asId;
  if (request.connectivity === 'CELLULAR') body.RAN = 'CELLULAR';
  body.CorrelationID = request.correlationId;
  return { DevEUI_downlink: body };
}

/**
 * What is published on IoT Flow's downlink topic: the document with `Time` always set (mandatory
 * when the AS profile authenticates), the flow's own Time if it gave one, else now.
 */
export function iotFlowDownlink(
  request: DownlinkRequest,
  now = new Date(),
): { DevEUI_downlink: DocumentBody } {
  const { DevEUI_downlink: body } = downlinkDocument(request);
  return { DevEUI_downlink: { Time: request.time ?? thingparkTime(now), ...body } };
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
  if (request.aFCntDn !== undefined) params.push(['AFCntDn', String(request.aFCntDn)]);
  params.push(['Payload', request.payloadHex]);
  if (request.confirmed) params.push(['Confirmed', '1']);
  if (request.flushDownlinkQueue) params.push(['FlushDownlinkQueue', '1']);
  if (request.retryIneligibleGateways !== undefined)
    params.push(['RetryIneligibleGateways', request.retryIneligibleGateways ? '1' : '0']);
  if (request.validityTime !== undefined) params.push(['ValidityTime', String(request.validityTime)]);
  params.push(['AS_ID', asId], ['Time', thingparkTime(now)], ['CorrelationID', request.correlationId]);
  return signQuery(params, asKey);
}
