import { isDevEUI } from '../../thingpark/mapping/document-types';
import { ApiInputError } from './errors';

/** Device management (OSS) and IoT Flow connections (DX Core), below the account's base URL. */
export const OSS_PATH = '/thingpark/wireless/rest/subscriptions/mine';
export const DX_CONNECTIONS_PATH = '/thingpark/dx/core/latest/api/connections';

/** The operations of the `thingpark-api` node (issue 18), in the order the editor lists them. */
export const OPERATIONS = [
  'listDevices',
  'getDevice',
  'deviceTraffic',
  'createDevice',
  'updateDevice',
  'deleteDevice',
  'listDeviceAlarms',
  'listConnections',
  'createHttpConnection',
  'createIotFlowConnection',
  'listDeviceProfiles',
  'listConnectivityPlans',
  'listNetworkContexts',
  'request',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];

/** One HTTP request of the API, before the base URL, token and encoding are added. */
export interface ApiRequest {
  method: Method;
  /** Absolute path below the base URL, not encoded. */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  /** A list whose pages may be followed with `pageAfter` cursors. */
  paged: boolean;
}

/** What a message gives an operation: the body or parameters, and the device. */
export interface OperationInput {
  payload?: unknown;
  devEUI?: unknown;
  topic?: unknown;
}

export const isOperation = (name: unknown): name is Operation =>
  typeof name === 'string' && (OPERATIONS as readonly string[]).includes(name);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

/** The DevEUI of `msg.devEUI`, else `msg.topic`: 16 hex digits, upper case. */
export function deviceEui(input: OperationInput): string {
  const raw = typeof input.devEUI === 'string' && input.devEUI ? input.devEUI : input.topic;
  const eui = typeof raw === 'string' ? raw.trim() : '';
  if (!isDevEUI(eui))
    throw new ApiInputError(
      `msg.devEUI (or msg.topic) must be a DevEUI of 16 hex digits, not ${JSON.stringify(raw ?? null)}`,
    );
  return eui.toUpperCase();
}

/** Query parameters from the scalar fields of `msg.payload` (an object), for list operations. */
function queryFrom(payload: unknown, skip: readonly string[] = []): Record<string, string> {
  if (payload === undefined || payload === null || payload === '' || typeof payload !== 'object') return {};
  if (!isRecord(payload)) throw new ApiInputError('msg.payload must be an object of query parameters');
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (skip.includes(key) || value === undefined || value === null) continue;
    if (!['string', 'number', 'boolean'].includes(typeof value))
      throw new ApiInputError(`query parameter ${key} must be a text, number or boolean`);
    query[key] = String(value);
  }
  return query;
}

function bodyOf(payload: unknown, what: string): Record<string, unknown> {
  if (!isRecord(payload)) throw new ApiInputError(`msg.payload must be the ${what} (an object)`);
  return payload;
}

const get = (path: string, query: Record<string, string> = {}, paged = true): ApiRequest => ({
  method: 'GET',
  path,
  query,
  paged,
});

const devicePath = (input: OperationInput) => `${OSS_PATH}/devices/e${deviceEui(input)}`;

/** A `request` path: absolute below the base URL (`/thingpark/…`), or relative to the OSS path. */
function requestPath(raw: unknown): string {
  if (typeof raw !== 'string' || !raw.trim()) throw new ApiInputError('msg.payload.path is required');
  const path = raw.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || /[?#\s\\]/.test(path) || path.startsWith('//'))
    throw new ApiInputError('msg.payload.path must be a path below the account URL, without query');
  if (path.split('/').some((s) => s === '..' || s === '.'))
    throw new ApiInputError('msg.payload.path must not hold . or .. segments');
  return path.startsWith('/') ? path : `${OSS_PATH}/${path}`;
}

/** Builds the request of `operation` from a message's parameters; throws ApiInputError when they do not fit. */
export function buildRequest(operation: Operation, input: OperationInput): ApiRequest {
  const payload = input.payload;
  switch (operation) {
    case 'listDevices':
      // Cursors need the list sorted by EUI.
      return get(`${OSS_PATH}/devices`, { sort: 'EUI,asc', ...queryFrom(payload, ['sort']) });
    case 'getDevice':
      return get(devicePath(input), {}, false);
    case 'deviceTraffic': {
      const p = isRecord(payload) ? payload : {};
      const query = {
        duration: String(p.duration ?? 'P7D'),
        step: String(p.step ?? 'P1D'),
        timezone: String(p.timezone ?? 'UTC'),
      };
      for (const name of ['duration', 'step'] as const)
        if (!DURATION.test(query[name]))
          throw new ApiInputError(`${name} must be an ISO 8601 duration such as P7D or PT1H`);
      return get(`${devicePath(input)}/frames/aggregated`, query, false);
    }
    case 'createDevice': {
      const body = bodyOf(payload, 'device to create');
      const query: Record<string, string> =
        body.connectivity === 'CELLULAR' ? {} : { networkSubscriptionsHandlingMode: 'BASIC' };
      return { method: 'POST', path: `${OSS_PATH}/devices`, query, body, paged: false };
    }
    case 'updateDevice':
      return {
        method: 'PUT',
        path: devicePath(input),
        query: {},
        body: bodyOf(payload, 'fields to change'),
        paged: false,
      };
    case 'deleteDevice':
      return { method: 'DELETE', path: devicePath(input), query: {}, paged: false };
    case 'listDeviceAlarms':
      return get(`${OSS_PATH}/devices/alarms`, { sort: 'alarmUid,asc', ...queryFrom(payload, ['sort']) });
    case 'listConnections':
      return get(`${OSS_PATH}/appServers`, queryFrom(payload));
    case 'createHttpConnection':
      return {
        method: 'POST',
        path: `${OSS_PATH}/appServers`,
        query: {},
        body: bodyOf(payload, 'connection to create'),
        paged: false,
      };
    case 'createIotFlowConnection':
      return {
        method: 'POST',
        path: DX_CONNECTIONS_PATH,
        query: {},
        body: bodyOf(payload, 'connection to create'),
        paged: false,
      };
    case 'listDeviceProfiles':
      return get(`${OSS_PATH}/deviceProfiles`, queryFrom(payload));
    case 'listConnectivityPlans':
      return get(`${OSS_PATH}/networkSubscriptions`, { connectivity: 'CELLULAR', ...queryFrom(payload) });
    case 'listNetworkContexts':
      return get(`${OSS_PATH}/cellularNetworkContexts`, queryFrom(payload));
    case 'request': {
      const p = bodyOf(payload, 'request: {method, path, query?, body?}');
      const method = String(p.method ?? 'GET').toUpperCase() as Method;
      if (!METHODS.includes(method)) throw new ApiInputError(`method must be one of ${METHODS.join(', ')}`);
      return {
        method,
        path: requestPath(p.path),
        query: queryFrom(p.query),
        ...(p.body !== undefined ? { body: p.body } : {}),
        paged: method === 'GET',
      };
    }
  }
}

/** The query string of a request, each name and value URL-encoded (`sort=EUI%2Casc`, cursors as sent). */
export function encodeQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}
