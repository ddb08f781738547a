import { EventEmitter } from 'events';
import WebSocket from 'ws';
import { Backoff, type BackoffOptions } from '../../connection/backoff';
import {
  Characteristic,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  EntityType,
  HEADER_SIZE,
  isRequestCode,
  MessageCode,
  type RequestCode,
} from '../constants';
import { AlwaysOnEncodeError } from '../errors';
import {
  buildAuthMessage,
  buildBindMessage,
  buildRequestMessage,
  buildResponse,
  namedVtqDataShape,
  readPropertyPut,
  singleRowTable,
  Typed,
  updateSubscribedPropertyValuesParams,
  type VtqEntry,
} from '../helpers';
import {
  decodeHeader,
  encodeMessage,
  type AlwaysOnMessage,
  type BindGateway,
  type RequestMessage,
  type ResponseMessage,
} from '../messages';
import { MultipartReassembler, splitMessage } from '../multipart';
import type { InfoTable, TypedValue } from '../values';
import { AlwaysOnClientError, describeCode, responseError } from './errors';

export type ClientState = 'disconnected' | 'connecting' | 'connected';

/** TLS settings for `wss://` (verified by default, TLS 1.2 at least). */
export interface AlwaysOnTlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** Default true: the server certificate must chain to a trusted CA and match the host name. */
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Default `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** A property write (PUT) from the platform to a bound Thing, e.g. `downlink` / `downlinkData`. */
export interface PropertyWrite {
  thing: string;
  property: string;
  value: TypedValue;
}

/**
 * What a property-write handler returns: nothing / `true` accepts (0x40); `false` refuses (0x80);
 * `{ code, reason }` answers that code (0x40 accepts). A thrown error answers 0xA0 with its message.
 */
export type PropertyWriteResult = void | boolean | { code: number; reason?: string };
export type PropertyWriteHandler = (
  write: PropertyWrite,
) => PropertyWriteResult | Promise<PropertyWriteResult>;

export interface AlwaysOnClientOptions {
  /** Platform host name or address (with `port` and `path`); ignored when `url` is given. */
  host?: string;
  /** Default 443 (80 with `allowInsecure`). */
  port?: number;
  /** Default `/Thingworx/WS`. */
  path?: string;
  /** Full `wss://…` URL instead of host / port / path. `ws://` needs `allowInsecure`. */
  url?: string;
  /** Application key: sent as the `appKey` upgrade header and as the AUTH claim. */
  appKey: string;
  /** Use plain `ws://` (no TLS). Only for tests and trusted local links. */
  allowInsecure?: boolean;
  tls?: AlwaysOnTlsOptions;
  /** WebSocket ping period (default 55 000 ms; 0 disables). */
  pingIntervalMs?: number;
  /** Drop the connection when a ping is not answered within this (default 10 000 ms). */
  pongTimeoutMs?: number;
  /** WebSocket upgrade + AUTH must complete within this (default 15 000 ms). */
  connectTimeoutMs?: number;
  /** Default timeout of a request (default 30 000 ms). */
  requestTimeoutMs?: number;
  /** Most names in one BIND message (default 500); a BIND also never exceeds one frame of `chunkSize` bytes. */
  bindBatchSize?: number;
  /** BIND messages in flight at once (default 4). */
  bindWindow?: number;
  /** Reconnect delays (defaults: 1 s doubling to 60 s, half of each delay randomised). */
  backoff?: BackoffOptions;
  /** Largest frame sent and announced as `Max-Frame-Size` (default 8192). */
  chunkSize?: number;
  /** Largest whole message either way (default 1 MiB). */
  maxMessageSize?: number;
  /** Optional gateway named in every BIND. */
  gateway?: BindGateway;
  /** Called for every property PUT on a bound Thing. Without it, property writes are answered 0x85. */
  onPropertyWrite?: PropertyWriteHandler;
  /** The JSON answered to `GetMetadata` for a bound Thing (default: a Thing with no local definitions). */
  metadata?: (thing: string) => unknown;
}

/** A request to the platform. Defaults: POST, entity type THING, characteristic SERVICES. */
export interface ClientRequest {
  code?: RequestCode;
  entityType?: number;
  entityName: string;
  characteristic?: number;
  characteristicName: string;
  params?: InfoTable;
  /** Overrides `requestTimeoutMs`. */
  timeoutMs?: number;
}

/** A successful (0x40) response. */
export interface ClientResponse {
  code: number;
  reason?: string;
  content?: InfoTable;
}

/** Anything that can send AlwaysOn requests: one client or a pipe pool. */
export interface AlwaysOnRequester {
  request(req: ClientRequest): Promise<ClientResponse>;
}

export interface ClientStats {
  /** Reconnect attempts scheduled after a connection was lost or could not be made. */
  reconnects: number;
  /** Requests sent (AUTH and BIND excluded). */
  sent: number;
  /** Requests answered 0x40. */
  acked: number;
  /** Requests that failed (error response, timeout, disconnect). */
  failed: number;
  timeouts: number;
  framesIn: number;
  framesOut: number;
  bindMessages: number;
  /** Requests from the platform answered (property writes, GetMetadata, …). */
  serverRequests: number;
  /** Frames that could not be decoded. */
  protocolErrors: number;
  /** Responses that matched no pending request (arrived after their timeout). */
  lateResponses: number;
}

interface Pending {
  resolve: (msg: ResponseMessage) => void;
  reject: (err: AlwaysOnClientError) => void;
  timer: NodeJS.Timeout;
  what: string;
}

const CODE_VERB: Record<number, string> = { 1: 'GET', 2: 'PUT', 3: 'POST', 4: 'DELETE' };
const ENTITY_PATH: Record<number, string> = {
  [EntityType.THING]: 'Things',
  [EntityType.THINGTEMPLATES]: 'ThingTemplates',
  [EntityType.THINGSHAPES]: 'ThingShapes',
  [EntityType.RESOURCE]: 'Resources',
};
const CHARACTERISTIC_PATH: Record<number, string> = { 1: 'Properties', 2: 'Services', 3: 'Events' };

/** `POST Things/x/Services/y`, for error messages. */
export function describeRequest(req: ClientRequest): string {
  const verb = CODE_VERB[req.code ?? MessageCode.POST] ?? String(req.code);
  const entity = ENTITY_PATH[req.entityType ?? EntityType.THING] ?? `entity${req.entityType}`;
  const ch = CHARACTERISTIC_PATH[req.characteristic ?? Characteristic.SERVICES] ?? 'x';
  return `${verb} ${entity}/${req.entityName}/${ch}/${req.characteristicName}`;
}

function stringBytes(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return n + (n < 0x80 ? 1 : 4);
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function classifySocketError(err: Error): AlwaysOnClientError {
  const m = /Unexpected server response: (\d+)/.exec(err.message);
  if (m) {
    const status = Number(m[1]);
    const kind = status === 401 || status === 403 ? 'auth' : 'transport';
    return new AlwaysOnClientError(kind, `WebSocket upgrade refused: HTTP ${status}`, {
      code: status,
      retryable: true,
      cause: err,
    });
  }
  return new AlwaysOnClientError('transport', `WebSocket error: ${err.message}`, { cause: err });
}

/**
 * One AlwaysOn connection: `wss://host:port/Thingworx/WS` with the `appKey` and `Max-Frame-Size` upgrade headers,
 * AUTH first, the session id stamped on every later message, Things bound in batches (and bound again after every
 * reconnect), WebSocket ping keep-alive, reconnect with capped exponential backoff and jitter, requests matched to
 * responses by request id with timeouts, multipart both ways, and the platform's requests answered.
 *
 * Events: `state` (state, lastError?), `bindError` ({ names, error }), `protocolError` (error), `close` (after
 * `close()` finished).
 */
export class AlwaysOnClient extends EventEmitter implements AlwaysOnRequester {
  readonly url: string;
  readonly stats: ClientStats = {
    reconnects: 0,
    sent: 0,
    acked: 0,
    failed: 0,
    timeouts: 0,
    framesIn: 0,
    framesOut: 0,
    bindMessages: 0,
    serverRequests: 0,
    protocolErrors: 0,
    lateResponses: 0,
  };
  private _state: ClientState = 'disconnected';
  private _lastError?: AlwaysOnClientError;
  private ws?: WebSocket;
  private sessionId?: number;
  private authenticated = false;
  private stopped = true;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly bound = new Set<string>();
  private readonly reassembler: MultipartReassembler;
  private readonly backoff: Backoff;
  private connectTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private pongTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly o: Required<
    Pick<
      AlwaysOnClientOptions,
      | 'pingIntervalMs'
      | 'pongTimeoutMs'
      | 'connectTimeoutMs'
      | 'requestTimeoutMs'
      | 'bindBatchSize'
      | 'bindWindow'
      | 'chunkSize'
      | 'maxMessageSize'
    >
  >;
  private propertyWriteHandler?: PropertyWriteHandler;

  constructor(private readonly options: AlwaysOnClientOptions) {
    super();
    if (!options || typeof options.appKey !== 'string' || options.appKey === '') {
      throw new TypeError('appKey is required');
    }
    this.url = AlwaysOnClient.buildUrl(options);
    const positive = (v: number | undefined, d: number, what: string, min = 0): number => {
      const n = v ?? d;
      if (!Number.isFinite(n) || n < min) throw new RangeError(`${what} must be a number >= ${min}`);
      return n;
    };
    this.o = {
      pingIntervalMs: positive(options.pingIntervalMs, 55000, 'pingIntervalMs'),
      pongTimeoutMs: positive(options.pongTimeoutMs, 10000, 'pongTimeoutMs', 1),
      connectTimeoutMs: positive(options.connectTimeoutMs, 15000, 'connectTimeoutMs', 1),
      requestTimeoutMs: positive(options.requestTimeoutMs, 30000, 'requestTimeoutMs', 1),
      bindBatchSize: Math.min(0xffff, positive(options.bindBatchSize, 500, 'bindBatchSize', 1)),
      bindWindow: positive(options.bindWindow, 4, 'bindWindow', 1),
      chunkSize: positive(options.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize', 64),
      maxMessageSize: positive(options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 'maxMessageSize', 64),
    };
    this.propertyWriteHandler = options.onPropertyWrite;
    this.backoff = new Backoff({ initialMs: 1000, maxMs: 60000, jitter: 0.5, ...options.backoff });
    this.reassembler = new MultipartReassembler({ maxMessageSize: this.o.maxMessageSize });
  }

  /** `wss://host:port/Thingworx/WS` from the options; refuses `ws://` unless `allowInsecure`. */
  static buildUrl(options: AlwaysOnClientOptions): string {
    let url: URL;
    if (options.url) {
      url = new URL(options.url);
    } else {
      if (!options.host) throw new TypeError('host or url is required');
      const scheme = options.allowInsecure ? 'ws' : 'wss';
      const port = options.port ?? (options.allowInsecure ? 80 : 443);
      const host =
        options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
      url = new URL(`${scheme}://${host}:${port}${options.path ?? '/Thingworx/WS'}`);
    }
    if (url.protocol === 'ws:' && !options.allowInsecure) {
      throw new TypeError('plain ws:// is refused unless allowInsecure is set; use wss://');
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
      throw new TypeError(`unsupported scheme ${url.protocol}`);
    return url.toString();
  }

  get state(): ClientState {
    return this._state;
  }

  get lastError(): AlwaysOnClientError | undefined {
    return this._lastError;
  }

  /** True once AUTH succeeded on the current socket (requests can be sent; re-binding may still be running). */
  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  /** The session id assigned by the platform, while authenticated. */
  get session(): number | undefined {
    return this.sessionId;
  }

  get boundCount(): number {
    return this.bound.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  isBound(thing: string): boolean {
    return this.bound.has(thing);
  }

  boundNames(): IterableIterator<string> {
    return this.bound.values();
  }

  /** Replace the property-write callback (the owner registers it once it is ready). */
  setPropertyWriteHandler(handler: PropertyWriteHandler | undefined): void {
    this.propertyWriteHandler = handler;
  }

  /** Start connecting (and reconnecting until `close()`). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.backoff.reset();
    this.connect();
  }

  /** Resolves once connected (AUTH done and every bound Thing re-bound). */
  whenConnected(timeoutMs = this.o.connectTimeoutMs): Promise<void> {
    if (this._state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (s: ClientState): void => {
        if (s === 'connected') {
          cleanup();
          resolve();
        } else if (this.stopped) onClose();
      };
      const onClose = (): void => {
        cleanup();
        reject(new AlwaysOnClientError('closed', 'client closed'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new AlwaysOnClientError('timeout', `not connected within ${timeoutMs} ms`, {
            cause: this._lastError,
          }),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('state', onState);
        this.off('close', onClose);
      };
      this.on('state', onState);
      this.on('close', onClose);
    });
  }

  /**
   * Stop: pending requests are rejected (kind `closed`, retryable), the socket is closed (terminated if the peer
   * does not answer the close within `graceMs`), and no timer or socket listener is left. Finishes within about
   * `graceMs` + 0.5 s.
   */
  async close(graceMs = 1000): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    if (ws) {
      this.teardown(ws, undefined);
      await closeSocket(ws, graceMs);
    } else {
      this.setState('disconnected');
    }
    this.reassembler.clear();
    this.emit('close');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Binding

  /**
   * Add Things to the bound set and, when authenticated, BIND them now (batches of at most `bindBatchSize` names
   * and one frame each). Not connected: they are bound on the next connection. A batch refused with a permanent
   * code is split to find the refused names; those leave the bound set and are reported (event `bindError`, and
   * the rejection of this call). Things stay bound across reconnects until `unbind`.
   */
  async bind(names: Iterable<string>): Promise<void> {
    const list: string[] = [];
    for (const n of names) {
      if (typeof n !== 'string' || n === '') throw new TypeError('Thing names must be non-empty strings');
      this.bound.add(n);
      list.push(n);
    }
    const ws = this.ws;
    if (!ws || !this.authenticated || list.length === 0) return;
    const errors = await this.sendBinds(ws, list, false);
    if (errors.length > 0) throw errors[0].error;
  }

  /** Remove Things from the bound set and UNBIND them now if authenticated. */
  async unbind(names: Iterable<string>): Promise<void> {
    const list: string[] = [];
    for (const n of names) if (this.bound.delete(n)) list.push(n);
    const ws = this.ws;
    if (!ws || !this.authenticated || list.length === 0) return;
    const errors = await this.sendBinds(ws, list, true);
    if (errors.length > 0) throw errors[0].error;
  }

  /** Cut names into batches that fit `bindBatchSize` and one frame. */
  private *bindBatches(names: readonly string[]): Generator<string[]> {
    const gw = this.options.gateway;
    const fixed = HEADER_SIZE + 1 + (gw ? stringBytes(gw.name) + stringBytes(gw.type) : 0) + 2;
    let batch: string[] = [];
    let size = fixed;
    for (const n of names) {
      const b = stringBytes(n);
      if (fixed + b > this.o.chunkSize) {
        yield [n]; // too long for any frame: sent alone so the refusal names it
        continue;
      }
      if (batch.length >= this.o.bindBatchSize || size + b > this.o.chunkSize) {
        yield batch;
        batch = [];
        size = fixed;
      }
      batch.push(n);
      size += b;
    }
    if (batch.length > 0) yield batch;
  }

  /** Send BIND/UNBIND batches with a window; returns the failures (after bisecting permanently refused batches). */
  private async sendBinds(
    ws: WebSocket,
    names: readonly string[],
    unbind: boolean,
  ): Promise<Array<{ names: string[]; error: AlwaysOnClientError }>> {
    const failures: Array<{ names: string[]; error: AlwaysOnClientError }> = [];
    const queue = [...this.bindBatches(names)];
    const what = unbind ? 'UNBIND' : 'BIND';
    const worker = async (): Promise<void> => {
      for (;;) {
        const batch = queue.shift();
        if (!batch || ws !== this.ws) return;
        let error: AlwaysOnClientError | undefined;
        try {
          const id = this.nextRequestId();
          const msg = buildBindMessage(batch, {
            requestId: id,
            sessionId: this.sessionId,
            gateway: this.options.gateway,
            unbind,
          });
          const frame = encodeMessage(msg);
          if (frame.length > this.o.chunkSize) {
            throw new AlwaysOnClientError('encode', `${what} of ${batch[0]}: name too long for one frame`);
          }
          this.stats.bindMessages++;
          const resp = await this.exchange(
            ws,
            [frame],
            id,
            `${what} (${batch.length} names)`,
            this.o.requestTimeoutMs,
          );
          if (resp.code !== MessageCode.SUCCESS) error = responseError(resp.code, resp.body.reason, what);
        } catch (e) {
          error = toClientError(e, what);
        }
        if (!error) continue;
        if (!error.retryable && batch.length > 1 && error.kind !== 'encode') {
          const half = Math.ceil(batch.length / 2);
          queue.unshift(batch.slice(0, half), batch.slice(half));
          continue;
        }
        if (!error.retryable && !unbind) for (const n of batch) this.bound.delete(n);
        failures.push({ names: batch, error });
        // A batch lost with its connection is bound again on the next one: not worth an event.
        if (ws === this.ws || !error.retryable) this.emit('bindError', { names: batch, error });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.bindWindow, queue.length) }, worker));
    return failures;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Requests

  /**
   * Send a request and resolve with the 0x40 response. Rejects with `AlwaysOnClientError`: `response` (error
   * code; `retryable` per `isRetryableCode`), `auth` (0x81: the session is dropped and re-established),
   * `timeout`, `disconnected`, `not-connected`, `closed` (all retryable) or `encode` (permanent).
   */
  request(req: ClientRequest): Promise<ClientResponse> {
    const what = describeRequest(req);
    const ws = this.ws;
    if (this.stopped) return Promise.reject(new AlwaysOnClientError('closed', `${what}: client is closed`));
    if (!ws || !this.authenticated) {
      return Promise.reject(
        new AlwaysOnClientError('not-connected', `${what}: not connected`, { cause: this._lastError }),
      );
    }
    const id = this.nextRequestId();
    let frames: Buffer[];
    try {
      const msg = buildRequestMessage({
        code: req.code ?? MessageCode.POST,
        requestId: id,
        sessionId: this.sessionId,
        entityType: req.entityType ?? EntityType.THING,
        entityName: req.entityName,
        characteristic: req.characteristic ?? Characteristic.SERVICES,
        characteristicName: req.characteristicName,
        params: req.params,
      });
      frames = this.frames(msg);
    } catch (e) {
      return Promise.reject(toClientError(e, what));
    }
    this.stats.sent++;
    return this.exchange(ws, frames, id, what, req.timeoutMs ?? this.o.requestTimeoutMs).then(
      (resp) => {
        if (resp.code === MessageCode.SUCCESS) {
          this.stats.acked++;
          const out: ClientResponse = { code: resp.code };
          if (resp.body.reason !== undefined) out.reason = resp.body.reason;
          if (resp.body.content) out.content = resp.body.content;
          return out;
        }
        this.stats.failed++;
        const err = responseError(resp.code, resp.body.reason, what);
        if (resp.code === MessageCode.UNAUTHORIZED) this.drop(ws, err);
        throw err;
      },
      (e: AlwaysOnClientError) => {
        this.stats.failed++;
        throw e;
      },
    );
  }

  /** POST `Things/<thing>/Services/<service>` (or another entity type); resolves with the result table. */
  async callService(
    thing: string,
    service: string,
    params?: InfoTable,
    opts: { entityType?: number; timeoutMs?: number } = {},
  ): Promise<InfoTable | undefined> {
    const r = await this.request({
      entityType: opts.entityType,
      entityName: thing,
      characteristicName: service,
      params,
      timeoutMs: opts.timeoutMs,
    });
    return r.content;
  }

  /** UpdateSubscribedPropertyValues on a Thing with NamedVTQ rows. */
  async updateProperties(
    thing: string,
    entries: readonly VtqEntry[],
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    await this.callService(
      thing,
      'UpdateSubscribedPropertyValues',
      updateSubscribedPropertyValuesParams(entries),
      opts,
    );
  }

  /**
   * Push one uplink: the JSON `data` into the Thing's `uplinkData` property (quality GOOD, `time` default now).
   * Resolves on 0x40.
   */
  pushUplink(
    thing: string,
    data: unknown,
    time: number | Date = Date.now(),
    opts: { timeoutMs?: number; property?: string } = {},
  ): Promise<void> {
    return this.updateProperties(
      thing,
      [{ name: opts.property ?? 'uplinkData', value: Typed.json(data), time, quality: 'GOOD' }],
      opts,
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection

  private setState(state: ClientState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state, this._lastError);
  }

  private nextRequestId(): number {
    for (;;) {
      this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
  }

  private frames(msg: AlwaysOnMessage): Buffer[] {
    return splitMessage(encodeMessage(msg), {
      chunkSize: this.o.chunkSize,
      maxMessageSize: this.o.maxMessageSize,
    });
  }

  private connect(): void {
    this.setState('connecting');
    const tls = this.options.tls ?? {};
    const secure = this.url.startsWith('wss:');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, {
        headers: { appKey: this.options.appKey, 'Max-Frame-Size': String(this.o.chunkSize) },
        handshakeTimeout: this.o.connectTimeoutMs,
        perMessageDeflate: false,
        maxPayload: this.o.maxMessageSize,
        followRedirects: false,
        ...(secure
          ? {
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              passphrase: tls.passphrase,
              servername: tls.servername,
              rejectUnauthorized: tls.rejectUnauthorized ?? true,
              minVersion: tls.minVersion ?? 'TLSv1.2',
            }
          : {}),
      });
    } catch (e) {
      this._lastError = toClientError(e, 'connect');
      this.setState('disconnected');
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      this.drop(
        ws,
        new AlwaysOnClientError('timeout', `connect + AUTH not done within ${this.o.connectTimeoutMs} ms`),
      );
    }, this.o.connectTimeoutMs);
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => this.onFrame(ws, data, isBinary));
    ws.on('pong', () => {
      if (ws === this.ws && this.pongTimer) {
        clearTimeout(this.pongTimer);
        this.pongTimer = undefined;
      }
    });
    ws.on('error', (err) => this.drop(ws, classifySocketError(err)));
    ws.on('close', (code, reason) => {
      const why = reason.toString() || `close code ${code}`;
      this.teardown(ws, new AlwaysOnClientError('disconnected', `connection closed: ${why}`));
    });
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.startKeepAlive(ws);
    void this.handshake(ws);
  }

  private async handshake(ws: WebSocket): Promise<void> {
    try {
      const id = this.nextRequestId();
      const auth = buildAuthMessage(this.options.appKey, { requestId: id });
      const resp = await this.exchange(ws, [encodeMessage(auth)], id, 'AUTH', this.o.connectTimeoutMs);
      if (ws !== this.ws) return;
      if (resp.code !== MessageCode.SUCCESS) {
        this.drop(ws, responseError(resp.code, resp.body.reason, 'AUTH'));
        return;
      }
      this.sessionId = resp.sessionId;
      this.authenticated = true;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      const names = [...this.bound];
      if (names.length > 0) await this.sendBinds(ws, names, false);
      if (ws !== this.ws) return;
      this.backoff.reset();
      this._lastError = undefined;
      this.setState('connected');
    } catch (e) {
      if (ws === this.ws) this.drop(ws, toClientError(e, 'AUTH'));
    }
  }

  private startKeepAlive(ws: WebSocket): void {
    if (this.o.pingIntervalMs <= 0) return;
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws || this.pongTimer) return;
      try {
        ws.ping();
      } catch {
        return;
      }
      this.pongTimer = setTimeout(() => {
        this.pongTimer = undefined;
        this.drop(ws, new AlwaysOnClientError('timeout', `no pong within ${this.o.pongTimeoutMs} ms`));
      }, this.o.pongTimeoutMs);
    }, this.o.pingIntervalMs);
  }

  /** Abandon a socket because of `err`, then reconnect (unless closed). */
  private drop(ws: WebSocket, err: AlwaysOnClientError): void {
    if (ws !== this.ws) return;
    this._lastError = err;
    this.teardown(ws, err);
    ws.terminate();
  }

  /** Forget a socket: timers, session, pending requests; then state `disconnected` and a reconnect. Idempotent. */
  private teardown(ws: WebSocket, err: AlwaysOnClientError | undefined): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    for (const t of [this.connectTimer, this.pongTimer]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.connectTimer = this.pongTimer = this.pingTimer = undefined;
    this.authenticated = false;
    this.sessionId = undefined;
    this.reassembler.clear();
    if (err && !this.stopped) this._lastError = err;
    const failure = this.stopped
      ? new AlwaysOnClientError('closed', 'client closed')
      : new AlwaysOnClientError('disconnected', `connection lost${err ? `: ${err.message}` : ''}`, {
          cause: err,
        });
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        new AlwaysOnClientError(failure.kind, `${p.what}: ${failure.message}`, {
          cause: failure.cause ?? err,
        }),
      );
    }
    this.setState('disconnected');
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    const delay = this.backoff.next();
    this.stats.reconnects++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.connect();
    }, delay);
  }

  /** Register a pending request, send its frames, resolve with whatever response comes back. */
  private exchange(
    ws: WebSocket,
    frames: Buffer[],
    id: number,
    what: string,
    timeoutMs: number,
  ): Promise<ResponseMessage> {
    return new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.get(id)?.timer !== timer) return;
        this.pending.delete(id);
        this.stats.timeouts++;
        reject(new AlwaysOnClientError('timeout', `${what}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, what });
      for (const f of frames) {
        ws.send(f, { binary: true });
        this.stats.framesOut++;
      }
    });
  }

  private sendMessage(ws: WebSocket, msg: AlwaysOnMessage): void {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    for (const f of this.frames(msg)) {
      ws.send(f, { binary: true });
      this.stats.framesOut++;
    }
  }

  private onFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.ws) return;
    this.stats.framesIn++;
    const buf = toBuffer(data);
    let msg: AlwaysOnMessage | undefined;
    try {
      if (!isBinary) throw new Error('text frame');
      msg = this.reassembler.accept(buf);
    } catch (e) {
      this.protocolError(ws, buf, e);
      return;
    }
    if (!msg) return;
    if (msg.kind === 'response') {
      const p = this.pending.get(msg.requestId);
      if (!p) {
        this.stats.lateResponses++;
        return;
      }
      clearTimeout(p.timer);
      this.pending.delete(msg.requestId);
      p.resolve(msg);
    } else if (msg.kind === 'request') {
      void this.onServerRequest(ws, msg);
    } else {
      this.protocolError(ws, buf, new Error(`unexpected ${msg.kind} message from the platform`));
    }
  }

  private protocolError(ws: WebSocket, frame: Buffer, e: unknown): void {
    this.stats.protocolErrors++;
    const err = new AlwaysOnClientError(
      'protocol',
      `bad frame from the platform: ${(e as Error)?.message ?? e}`,
      {
        cause: e,
      },
    );
    this.emit('protocolError', err);
    try {
      const h = decodeHeader(frame);
      if (isRequestCode(h.code)) {
        this.sendMessage(ws, buildResponse(h, MessageCode.BAD_REQUEST, undefined, 'undecodable request'));
      }
    } catch {
      // not even a header: nothing to answer
    }
  }

  private async onServerRequest(ws: WebSocket, req: RequestMessage): Promise<void> {
    this.stats.serverRequests++;
    let resp: ResponseMessage;
    try {
      resp = await this.answer(req);
    } catch (e) {
      resp = buildResponse(
        req,
        MessageCode.INTERNAL_SERVER_ERROR,
        undefined,
        String((e as Error)?.message ?? e),
      );
    }
    try {
      this.sendMessage(ws, resp);
    } catch (e) {
      // The answer itself could not be encoded (too large, bad value): say so instead.
      this.sendMessage(
        ws,
        buildResponse(
          req,
          MessageCode.INTERNAL_SERVER_ERROR,
          undefined,
          `response not encodable: ${String(e)}`,
        ),
      );
    }
  }

  private async answer(req: RequestMessage): Promise<ResponseMessage> {
    const b = req.body;
    const fail = (code: number, reason: string): ResponseMessage =>
      buildResponse(req, code, undefined, reason);
    if (b.entityType !== EntityType.THING || !this.bound.has(b.entityName)) {
      return fail(MessageCode.NOT_FOUND, `Thing ${b.entityName} is not bound on this connection`);
    }
    const thing = b.entityName;
    if (b.characteristic === Characteristic.PROPERTIES) {
      if (req.code !== MessageCode.PUT) {
        return fail(
          MessageCode.METHOD_NOT_ALLOWED,
          `${CODE_VERB[req.code]} of property ${b.characteristicName}`,
        );
      }
      const put = readPropertyPut(b);
      if (!put) return fail(MessageCode.BAD_REQUEST, `no value for property ${b.characteristicName}`);
      const handler = this.propertyWriteHandler;
      if (!handler) return fail(MessageCode.METHOD_NOT_ALLOWED, `property writes are not accepted`);
      const r = await handler({ thing, property: put.property, value: put.value });
      if (r === undefined || r === true) return buildResponse(req);
      if (r === false) return fail(MessageCode.BAD_REQUEST, `value of ${put.property} refused`);
      const code = Number.isInteger(r.code) && r.code >= 0x40 && r.code <= 0xff ? r.code : 0xa0;
      if (code === MessageCode.SUCCESS) return buildResponse(req);
      return fail(code, r.reason ?? describeCode(code));
    }
    if (b.characteristic === Characteristic.SERVICES) {
      switch (b.characteristicName) {
        case 'NotifyPropertyUpdate':
          return buildResponse(req);
        case 'GetMetadata': {
          const meta = this.options.metadata?.(thing) ?? {
            name: thing,
            description: '',
            isSystemObject: false,
            propertyDefinitions: {},
            serviceDefinitions: {},
            eventDefinitions: {},
          };
          return buildResponse(req, MessageCode.SUCCESS, singleRowTable({ result: Typed.json(meta) }));
        }
        case 'SynchronizeModelState':
          return buildResponse(req, MessageCode.SUCCESS, { dataShape: namedVtqDataShape(), rows: [] });
        default:
          return fail(MessageCode.METHOD_NOT_ALLOWED, `service ${b.characteristicName} is not implemented`);
      }
    }
    return fail(MessageCode.METHOD_NOT_ALLOWED, `characteristic ${b.characteristic} is not supported`);
  }
}

function toClientError(e: unknown, what: string): AlwaysOnClientError {
  if (e instanceof AlwaysOnClientError) return e;
  if (e instanceof AlwaysOnEncodeError)
    return new AlwaysOnClientError('encode', `${what}: ${e.message}`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new AlwaysOnClientError('transport', `${what}: ${msg}`, { cause: e });
}

/** Close a socket politely, terminating it if the close handshake takes longer than `graceMs`. */
function closeSocket(ws: WebSocket, graceMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(soft);
      clearTimeout(hard);
      resolve();
    };
    const soft = setTimeout(() => ws.terminate(), graceMs);
    const hard = setTimeout(finish, graceMs + 500);
    ws.once('close', finish);
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
    } catch {
      ws.terminate();
    }
  });
}
