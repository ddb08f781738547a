import { randomBytes } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';

/**
 * A strict stand-in for ThingPark's API on loopback, written from the tutorial
 * (../shared/reference/thingpark-api.md), never from what our client sends:
 * - token endpoint `POST /users-auth/protocol/openid-connect/token`: form-encoded only, `grant_type=
 *   client_credentials` with the service account's `client_id` / `client_secret` (form or HTTP Basic);
 *   answers `access_token` and a short `expires_in` (Keycloak's error bodies otherwise);
 * - every other path needs `Authorization: Bearer <token>` of a token still alive: else 401;
 * - device and alarm lists: cursor pages of `pageSize`, `count` on the first page only (null after),
 *   `cursors.last` a base64 JSON of the last key; `pageAfter` is refused unless sorted by the cursor key
 *   (`sort=EUI,asc` / `alarmUid,asc`) and must decode (so an unencoded cursor fails);
 * - creations need `Content-Type: application/json`, answer 201 with `Location`; bad devices,
 *   connections and references are 400 with an error body `{code, message}`; unknown paths 404;
 * - `throttle(n, s)` makes the next n API requests 429 with `Retry-After: s`; `revokeTokens()` ends
 *   every token early (the next request with one is 401).
 */
export const TOKEN_PATH = '/users-auth/protocol/openid-connect/token';
export const OSS = '/thingpark/wireless/rest/subscriptions/mine';
export const DX_CONNECTIONS = '/thingpark/dx/core/latest/api/connections';

export interface ApiDevice {
  ref: string;
  EUI: string;
  name: string;
  connectivity: 'LORAWAN' | 'CELLULAR';
  model: { ID: string };
  appServers: Array<{ ID: string }>;
  [field: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  rawQuery: string;
  authorization?: string;
  contentType?: string;
  body: string;
  status: number;
}

export interface ThingParkApiServerOptions {
  clientId: string;
  clientSecret: string;
  /** `expires_in` of every token, in seconds (ThingPark: about 300). */
  tokenLifetimeS?: number;
  /** Devices at start: a number (generated, added in shuffled order) or a list. */
  devices?: number | Array<Partial<ApiDevice> & { EUI: string }>;
  /** Alarms generated at start, spread over the devices. */
  alarms?: number;
  pageSize?: number;
  /** Every API answer (not token answers) comes this late, in ms. */
  answerDelayMs?: number;
}

const PROFILES = [
  { ID: 'SMTC/LoRaMoteA.1_EU', commercialName: 'LoRaMote', vendor: 'Semtech', connectivity: 'LORAWAN' },
  {
    ID: 'LORA/GenericA.1.0.2a_ETSI',
    commercialName: 'Generic class A',
    vendor: 'LoRa Alliance',
    connectivity: 'LORAWAN',
  },
  { ID: 'CUSTOM/LTE_Dongle', commercialName: 'LTE dongle', vendor: 'Custom', connectivity: 'CELLULAR' },
];
const PLANS = [
  { ID: 'acme-cs/cellular-cp', name: 'Cellular plan', used: 1, granted: 100, connectivity: 'CELLULAR' },
];
const CONTEXTS = [{ ID: '1AF3B', name: 'Default APN', mode: 'IPV4' }];
const CONTENT_TYPES = ['jsontyped', 'json', 'jsonuntyped', 'xml'];
const HEX = (n: number) => new RegExp(`^[0-9A-Fa-f]{${n}}$`);

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
const bad = (message: string) => new Refusal(400, message);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class ThingParkApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly devices = new Map<string, ApiDevice>();
  readonly appServers: Array<Record<string, unknown>> = [];
  readonly connections: Array<Record<string, unknown>> = [];
  alarms: Array<Record<string, unknown>> = [];
  /** Tokens handed out, with when they die (ms). */
  readonly tokens = new Map<string, number>();
  tokenRequests = 0;
  private throttled = { count: 0, retryAfterS: 1 };
  private nextRef = 2227;
  private server?: http.Server;

  constructor(readonly options: ThingParkApiServerOptions) {
    const seed = options.devices ?? 0;
    const list =
      typeof seed === 'number'
        ? shuffled(
            Array.from({ length: seed }, (_, i) => ({
              EUI: `70B3D5E75E${(0x100000 + i).toString(16).toUpperCase()}`,
            })),
          )
        : seed;
    for (const d of list) this.addDevice(d);
    const euis = [...this.devices.keys()];
    for (let i = 0; i < (options.alarms ?? 0) && euis.length; i++) {
      const device = this.devices.get(euis[i % euis.length])!;
      this.alarms.push({
        ID: `${device.ref}-${i}`,
        alarmUid: 1000 + i,
        severity: i % 3 === 0 ? 'CRITICAL' : 'MAJOR',
        state: 'ACTIVE',
        device: { name: device.name, EUI: device.EUI },
        href: `${OSS}/devices/alarms/${1000 + i}`,
      });
    }
    this.alarms = shuffled(this.alarms);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo | null)?.port}`;
  }

  addDevice(d: Partial<ApiDevice> & { EUI: string }): ApiDevice {
    const ref = String(this.nextRef++);
    const device: ApiDevice = {
      ref,
      name: `Device ${d.EUI.slice(-4)}`,
      connectivity: 'LORAWAN',
      model: { ID: 'SMTC/LoRaMoteA.1_EU' },
      appServers: [],
      ...d,
      EUI: d.EUI.toUpperCase(),
    };
    this.devices.set(device.EUI, device);
    return device;
  }

  /** The next `count` API requests (not token requests) are answered 429 with this Retry-After. */
  throttle(count: number, retryAfterS = 1): void {
    this.throttled = { count, retryAfterS };
  }

  /** Every token handed out so far dies now. */
  revokeTokens(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => this.receive(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private receive(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path, rawQuery = ''] = (req.url ?? '/').split('?', 2);
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        query: new URLSearchParams(rawQuery),
        rawQuery,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
        status: 0,
      };
      this.requests.push(record);
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        const text = body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json' } : {}), ...headers });
        res.end(text);
      };
      try {
        if (path === TOKEN_PATH) return this.token(record, send);
        if (this.throttled.count > 0) {
          this.throttled.count--;
          return send(
            429,
            { code: 429, message: 'Too many requests' },
            { 'Retry-After': String(this.throttled.retryAfterS) },
          );
        }
        const bearer = /^Bearer (\S+)$/.exec(record.authorization ?? '')?.[1];
        const dies = bearer ? this.tokens.get(bearer) : undefined;
        if (dies === undefined || dies <= Date.now())
          return send(
            401,
            {
              error: 'invalid_token',
              error_description: bearer ? 'Token is not active' : 'Bearer token required',
            },
            { 'WWW-Authenticate': 'Bearer realm="thingpark"' },
          );
        const [status, body, headers] = this.route(record);
        const delay = this.options.answerDelayMs ?? 0;
        if (delay > 0) setTimeout(() => send(status, body, headers), delay);
        else send(status, body, headers);
      } catch (err) {
        if (err instanceof Refusal) return send(err.status, { code: err.status, message: err.message });
        send(500, { code: 500, message: 'Internal error' });
      }
    });
  }

  private token(r: RecordedRequest, send: (s: number, b?: unknown) => void): void {
    this.tokenRequests++;
    if (r.method !== 'POST')
      return send(405, { error: 'invalid_request', error_description: 'HTTP method not allowed' });
    if (!/^application\/x-www-form-urlencoded\b/.test(r.contentType ?? ''))
      return send(400, { error: 'invalid_request', error_description: 'Form-encoded body expected' });
    const form = new URLSearchParams(r.body);
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (\S+)$/.exec(r.authorization ?? '')?.[1];
    if (basic) [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':', 2);
    if (form.get('grant_type') !== 'client_credentials')
      return send(400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
    if (id !== this.options.clientId || secret !== this.options.clientSecret)
      return send(401, {
        error: 'unauthorized_client',
        error_description: 'Invalid client or Invalid client credentials',
      });
    const lifetime = this.options.tokenLifetimeS ?? 300;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, Date.now() + lifetime * 1000);
    send(200, {
      access_token: token,
      expires_in: lifetime,
      refresh_expires_in: 0,
      token_type: 'Bearer',
      'not-before-policy': 0,
      scope: 'profile email',
    });
  }

  private route(r: RecordedRequest): [number, unknown, Record<string, string>?] {
    const m = r.method;
    if (r.path === DX_CONNECTIONS) {
      if (m === 'GET') return [200, this.connections];
      if (m === 'POST') return this.createConnection(this.jsonBody(r));
    }
    if (!r.path.startsWith(`${OSS}/`)) throw new Refusal(404, 'Not found');
    const rest = r.path.slice(OSS.length + 1).split('/');
    const [resource, id, sub, subsub] = rest;
    if (resource === 'devices' && id === undefined) {
      if (m === 'GET') return [200, this.list(r, [...this.devices.values()].map(brief), 'EUI')];
      if (m === 'POST') return this.createDevice(r);
    }
    if (resource === 'devices' && id === 'alarms' && sub === undefined && m === 'GET')
      return [200, this.list(r, this.alarms, 'alarmUid')];
    if (resource === 'devices' && id !== undefined && id !== 'alarms') {
      const device = this.deviceOf(id);
      if (sub === 'frames' && subsub === 'aggregated' && rest.length === 4 && m === 'GET')
        return [200, this.traffic(r)];
      if (sub === undefined) {
        if (m === 'GET') return [200, device];
        if (m === 'PUT') return [200, this.updateDevice(device, this.jsonBody(r))];
        if (m === 'DELETE') {
          this.devices.delete(device.EUI);
          return [204, undefined];
        }
      }
    }
    if (resource === 'appServers' && id === undefined) {
      if (m === 'GET')
        return [
          200,
          { briefs: this.appServers.map((a) => ({ ...a, downlinkSecurity: undefined })), more: false },
        ];
      if (m === 'POST') return this.createAppServer(this.jsonBody(r));
    }
    if (rest.length === 1 && m === 'GET') {
      const connectivity = r.query.get('connectivity');
      const of = <T extends { connectivity?: string }>(list: T[]) =>
        list.filter((x) => !connectivity || x.connectivity === connectivity);
      if (resource === 'deviceProfiles') return [200, { briefs: of(PROFILES), more: false }];
      if (resource === 'networkSubscriptions') return [200, { briefs: of(PLANS), more: false }];
      if (resource === 'cellularNetworkContexts') return [200, { briefs: CONTEXTS, more: false }];
    }
    throw new Refusal(m === 'GET' ? 404 : 405, m === 'GET' ? 'Not found' : 'Method not allowed');
  }

  private jsonBody(r: RecordedRequest): Record<string, unknown> {
    if (!/^application\/json\b/.test(r.contentType ?? ''))
      throw new Refusal(415, 'Content-Type must be application/json');
    let body: unknown;
    try {
      body = JSON.parse(r.body);
    } catch {
      throw bad('Malformed JSON body');
    }
    if (!isRecord(body)) throw bad('A JSON object is expected');
    return body;
  }

  /** A cursor page of `items` sorted by `key` (reference: cursor pagination). */
  private list(r: RecordedRequest, items: Array<Record<string, unknown>>, key: string): unknown {
    const sorted = r.query.get('sort') === `${key},asc`;
    const after = r.query.get('pageAfter');
    if (after !== null && !sorted) throw bad(`pageAfter needs the list sorted by ${key} (sort=${key},asc)`);
    let list = sorted ? [...items].sort((a, b) => compare(a[key], b[key])) : items;
    const first = after === null;
    if (!first) {
      let last: unknown;
      try {
        last = (JSON.parse(Buffer.from(after, 'base64').toString('utf8')) as Record<string, unknown>)[key];
      } catch {
        last = undefined;
      }
      if (last === undefined) throw bad('Invalid pageAfter cursor');
      list = list.filter((item) => compare(item[key], last) > 0);
    }
    const page = list.slice(0, this.options.pageSize ?? 100);
    const more = list.length > page.length;
    const lastItem = page[page.length - 1];
    return {
      briefs: page,
      more,
      count: first ? items.length : null,
      ...(sorted && lastItem
        ? { cursors: { last: Buffer.from(JSON.stringify({ [key]: lastItem[key] })).toString('base64') } }
        : {}),
    };
  }

  private deviceOf(id: string): ApiDevice {
    const byEui = /^e([0-9A-Fa-f]{16})$/.exec(id);
    const device = byEui
      ? this.devices.get(byEui[1].toUpperCase())
      : [...this.devices.values()].find((d) => d.ref === id);
    if (!device) throw new Refusal(404, `Device ${id} not found`);
    return device;
  }

  private checkAppServers(value: unknown): Array<{ ID: string }> {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw bad('appServers must be a list');
    return value.map((a) => {
      const id = isRecord(a) ? a.ID : undefined;
      if (typeof id !== 'string' || !this.appServers.some((s) => s.ID === id))
        throw bad(`Unknown application server ${JSON.stringify(id)}`);
      return { ID: id };
    });
  }

  private profile(body: Record<string, unknown>, connectivity: string): void {
    const id = isRecord(body.model) ? body.model.ID : undefined;
    if (!PROFILES.some((p) => p.ID === id && p.connectivity === connectivity))
      throw bad(`Unknown ${connectivity} device profile ${JSON.stringify(id)}`);
  }

  private createDevice(r: RecordedRequest): [number, unknown, Record<string, string>] {
    const body = this.jsonBody(r);
    const appServers = this.checkAppServers(body.appServers);
    let eui: string;
    if (body.connectivity === 'CELLULAR') {
      this.profile(body, 'CELLULAR');
      if (typeof body.enforcedIMEI !== 'string' || !/^\d{15}$/.test(body.enforcedIMEI))
        throw bad('enforcedIMEI must be 15 digits');
      const plan = isRecord(body.networkSubscription) ? body.networkSubscription.ID : undefined;
      if (!PLANS.some((p) => p.ID === plan)) throw bad(`Unknown connectivity plan ${JSON.stringify(plan)}`);
      const context = isRecord(body.networkContext) ? body.networkContext.ID : undefined;
      if (!CONTEXTS.some((c) => c.ID === context))
        throw bad(`Unknown network context ${JSON.stringify(context)}`);
      const sim = isRecord(body.sim) ? body.sim.ID : undefined;
      if (typeof sim !== 'string' || !/^\d{18,20}$/.test(sim))
        throw bad('sim.ID must be an ICCID of 18 to 20 digits');
      let n = 1;
      while (this.devices.has(`F03D29${n.toString(16).toUpperCase().padStart(10, '0')}`)) n++;
      eui = `F03D29${n.toString(16).toUpperCase().padStart(10, '0')}`;
    } else {
      if (body.connectivity !== 'LORAWAN') throw bad('connectivity must be LORAWAN or CELLULAR');
      if (r.query.get('networkSubscriptionsHandlingMode') !== 'BASIC')
        throw bad('networkSubscriptionsHandlingMode=BASIC is required');
      if (typeof body.EUI !== 'string' || !HEX(16).test(body.EUI))
        throw bad('EUI must be 16 hexadecimal digits');
      eui = body.EUI.toUpperCase();
      if (this.devices.has(eui)) throw bad(`A device with EUI ${eui} already exists`);
      this.profile(body, 'LORAWAN');
      if (body.activation !== 'OTAA') throw bad('activation must be OTAA');
      if (typeof body.appKey !== 'string' || !HEX(32).test(body.appKey))
        throw bad('appKey must be 32 hexadecimal digits');
    }
    // ThingPark keeps the appKey to itself: it is not in what it answers.
    const kept = { ...body };
    delete kept.appKey;
    const device = this.addDevice({ ...kept, EUI: eui, appServers } as ApiDevice);
    return [201, device, { Location: `${OSS}/devices/${device.ref}` }];
  }

  private updateDevice(device: ApiDevice, body: Record<string, unknown>): ApiDevice {
    for (const fixed of ['EUI', 'ref', 'connectivity'])
      if (fixed in body && body[fixed] !== device[fixed]) throw bad(`${fixed} cannot be changed`);
    const appServers = 'appServers' in body ? this.checkAppServers(body.appServers) : device.appServers;
    Object.assign(device, body, { appServers });
    return device;
  }

  private traffic(r: RecordedRequest): unknown {
    const days = (text: string | null) => Number(/^P(\d+)D$/.exec(text ?? '')?.[1]);
    const duration = days(r.query.get('duration'));
    const step = days(r.query.get('step'));
    if (!duration || !step) throw bad('duration and step must be ISO 8601 durations in days (P7D, P1D)');
    if (!r.query.get('timezone')) throw bad('timezone is required');
    const now = Date.UTC(2026, 0, 8);
    const briefs = Array.from({ length: Math.ceil(duration / step) }, (_, i) => ({
      startTime: new Date(now - (duration - i * step) * 86400000).toISOString(),
      rssiMean: -90 - i,
      snrMean: 7.5,
      up: { count: 24, countLost: i % 2 },
      dw: { count: 2, countSent: 2, countFailed: 0 },
    }));
    return { briefs, more: false };
  }

  private createAppServer(body: Record<string, unknown>): [number, unknown, Record<string, string>] {
    if (typeof body.name !== 'string' || !body.name) throw bad('name is required');
    if (!CONTENT_TYPES.includes(String(body.contentType)))
      throw bad(`contentType must be one of ${CONTENT_TYPES.join(', ')}`);
    const destinations = body.destinations;
    const ok =
      Array.isArray(destinations) &&
      destinations.length > 0 &&
      destinations.every(
        (d) =>
          isRecord(d) &&
          Array.isArray(d.addresses) &&
          d.addresses.length > 0 &&
          d.addresses.every((a) => typeof a === 'string' && /^https?:\/\/[^\s/]+/.test(a)),
      );
    if (!ok) throw bad('destinations must list at least one http(s) address');
    const security = body.downlinkSecurity;
    if (isRecord(security) && security.status === 'DOWNLINK_AS_KEY') {
      if (typeof security.downlinkAsKey !== 'string' || !HEX(32).test(security.downlinkAsKey))
        throw bad('downlinkAsKey must be 32 hexadecimal digits');
      if (!Number.isInteger(security.maxTimestampDeviation))
        throw bad('maxTimestampDeviation must be a whole number');
    }
    const ref = String(this.nextRef++);
    const created = {
      ID: `TWA_199983788.${ref}.AS`,
      ref,
      type: 'HTTP',
      state: 'ACTIVE',
      deviceCount: 0,
      href: `${OSS}/appServers/${ref}`,
      ...body,
      occContext: { version: 1 },
    };
    this.appServers.push(created);
    return [201, created, { Location: `${OSS}/appServers/${ref}` }];
  }

  private createConnection(body: Record<string, unknown>): [number, unknown, Record<string, string>] {
    if (body.connectorId !== 'actility-mqtt-iot')
      throw bad(`Unknown connectorId ${JSON.stringify(body.connectorId)}`);
    if (typeof body.name !== 'string' || !body.name) throw bad('name is required');
    const c = body.configuration;
    if (!isRecord(c)) throw bad('configuration is required');
    for (const field of ['hostName', 'protocol', 'uplinkTopicPattern', 'downlinkTopicPattern'])
      if (typeof c[field] !== 'string' || !c[field]) throw bad(`configuration.${field} is required`);
    if (!['SSL', 'TCP', 'WSS'].includes(String(c.protocol)))
      throw bad('configuration.protocol must be SSL, TCP or WSS');
    const id = String(1114 + this.connections.length);
    const created = { id, connectorId: body.connectorId, name: body.name, state: 'OPENED', configuration: c };
    this.connections.push(created);
    // The OSS side sees the connection as an application server that refers to it.
    const ref = String(this.nextRef++);
    this.appServers.push({
      ID: `TWA_199983788.${ref}.AS`,
      ref,
      name: body.name,
      type: 'TPX_IOT_FLOW',
      state: 'ACTIVE',
      deviceCount: 0,
      tpxIotFlow: { connectionId: id },
      href: `${OSS}/appServers/${ref}`,
    });
    return [201, created, { Location: `/connections/${id}` }];
  }
}

function brief(d: ApiDevice): Record<string, unknown> {
  return {
    ref: d.ref,
    EUI: d.EUI,
    name: d.name,
    connectivity: d.connectivity,
    model: d.model,
    href: `${OSS}/devices/${d.ref}`,
  };
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** The same order on every run (a fixed permutation), so sorting is needed and tests replay. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
