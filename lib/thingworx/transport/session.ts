import { ServiceCalls } from './service-calls';
import WebSocket from 'ws';
import { Backoff } from '../../connection/backoff';
import { MessageCode } from '../alwayson/constants';
import { buildAuthMessage, type VtqEntry } from '../alwayson/helpers';
import {
  encodeMessage,
  type AlwaysOnMessage,
  type RequestMessage,
  type ResponseMessage,
} from '../alwayson/messages';
import { MultipartReassembler, splitMessage } from '../alwayson/multipart';
import type { TypedValue } from '../alwayson/values';
import { bindBatches, bindFrame, RefusedBinds, sendBindBatches, type BindFailure } from './binds';
import { AlwaysOnClientError, responseError } from './errors';
import {
  buildUrl,
  newStats,
  resolveOptions,
  type AlwaysOnClientOptions,
  type ClientState,
  type ClientStats,
  type PropertyWriteHandler,
  type ResolvedOptions,
} from './options';
import { startKeepAlive, whenConnected, type KeepAlive } from './keepalive';
import { answerAndSend, answerUndecodable, responseIdOf } from './platform-requests';
import { PushedValues } from './pushed-values';
import {
  describeRequest,
  PendingRequests,
  requestMessage,
  successOf,
  toClientError,
  type AlwaysOnRequester,
  type ClientRequest,
  type ClientResponse,
} from './requests';
import { classifySocketError, closeSocket, openSocket, raceTimer, toBuffer } from './socket';

/**
 * One AlwaysOn connection: `wss://host:port/Thingworx/WS` with the `appKey` and `Max-Frame-Size` upgrade headers,
 * AUTH first, the session id stamped on every later message, Things bound in batches (and bound again after every
 * reconnect), WebSocket ping keep-alive, reconnect with capped exponential backoff and jitter, requests matched to
 * responses by request id with timeouts, multipart both ways, and the platform's requests answered.
 *
 * Events: `state` (state, lastError?), `bound` (names accepted by a BIND), `bindError` ({ names, error }),
 * `propertyUpdate` (thing: the platform's NotifyPropertyUpdate), `protocolError` (error), `close` (after `close()`
 * finished).
 */
export class AlwaysOnClient extends ServiceCalls implements AlwaysOnRequester {
  readonly url: string;
  readonly stats: ClientStats = newStats();
  private _state: ClientState = 'disconnected';
  private _lastError?: AlwaysOnClientError;
  private ws?: WebSocket;
  private sessionId?: number;
  private authenticated = false;
  private stopped = true;
  private readonly pending = new PendingRequests(() => this.stats.timeouts++);
  private readonly bound = new Set<string>();
  /** Names the platform refused to bind (not bound, retried with backoff). */
  private readonly refused: RefusedBinds;
  /** The last value pushed of each property of each bound Thing: what a GET of the property is answered. */
  private readonly pushed: PushedValues;
  private readonly reassembler: MultipartReassembler;
  private readonly backoff: Backoff;
  private connectTimer?: NodeJS.Timeout;
  private keepAlive?: KeepAlive;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly o: ResolvedOptions;
  private propertyWriteHandler?: PropertyWriteHandler;

  constructor(private readonly options: AlwaysOnClientOptions) {
    super();
    if (!options || typeof options.appKey !== 'string' || options.appKey === '') {
      throw new TypeError('appKey is required');
    }
    this.url = buildUrl(options);
    this.o = resolveOptions(options);
    this.propertyWriteHandler = options.onPropertyWrite;
    this.pushed = new PushedValues(options.pushedValuesMaxBytes);
    this.backoff = new Backoff({ initialMs: 1000, maxMs: 60000, jitter: 0.5, ...options.backoff });
    this.refused = new RefusedBinds({ initialMs: 5000, maxMs: 300000, jitter: 0.5, ...options.bindRetry });
    this.reassembler = new MultipartReassembler({ maxMessageSize: this.o.maxMessageSize });
  }

  /** `wss://host:port/Thingworx/WS` from the options; refuses `ws://` unless `allowInsecure`. */
  static buildUrl(options: AlwaysOnClientOptions): string {
    return buildUrl(options);
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

  /** The value last pushed of a property (by the name pushed) of a bound Thing. */
  lastPushed(thing: string, property: string): TypedValue | undefined {
    return this.pushed.get(thing, property);
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
    return this.bound.has(thing) && !this.refused.has(thing);
  }

  /** Whether the platform refused to bind the Thing (retried with backoff). */
  isRefused(thing: string): boolean {
    return this.refused.has(thing);
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
    return whenConnected(this, () => this.stopped, timeoutMs);
  }

  /**
   * Stop: the bound Things are unbound (UNBIND, waited for at most `graceMs` / 2), pending requests are rejected
   * (kind `closed`, retryable), the socket is closed (terminated if the peer does not answer the close within
   * `graceMs`), and no timer or socket listener is left. Finishes within about 1.5 × `graceMs` + 0.5 s.
   */
  async close(graceMs = 1000): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const ws = this.ws;
    if (ws) {
      // As the SDK does: UNBIND what we bound, so the platform sees the Things leave now rather than at a timeout.
      if (this.authenticated && this.bound.size > 0) {
        const unbound = this.sendBinds(ws, [...this.bound], true).catch(() => undefined);
        await raceTimer(unbound, graceMs / 2);
      }
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
   * and one frame each). Not connected: they are bound on the next connection. A batch the platform refuses is
   * not bound (`isBound` false, `isRefused` true), reported once (event `bindError`, and the rejection of this
   * call) and sent again whole after a backoff (`bindRetry`) until accepted. A name too long for a frame leaves
   * the set. Things stay bound across reconnects until `unbind`.
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
    for (const n of list) this.pushed.forget(n);
    for (const n of list) this.refused.delete(n);
    const ws = this.ws;
    if (!ws || !this.authenticated || list.length === 0) return;
    const errors = await this.sendBinds(ws, list, true);
    if (errors.length > 0) throw errors[0].error;
  }

  private sendBinds(ws: WebSocket, names: readonly string[], unbind: boolean): Promise<BindFailure[]> {
    const o = { ...this.o, gateway: this.options.gateway };
    const link = {
      current: () => ws === this.ws,
      send: async (batch: string[], ub: boolean): Promise<void> => {
        const id = this.pending.nextRequestId();
        const frame = bindFrame(batch, ub, { requestId: id, sessionId: this.sessionId }, o);
        this.stats.bindMessages++;
        const what = `${ub ? 'UNBIND' : 'BIND'} (${batch.length} names)`;
        const resp = await this.exchange(ws, [frame], id, what, this.o.requestTimeoutMs);
        if (resp.code !== MessageCode.SUCCESS) {
          throw responseError(resp.code, resp.body.reason, ub ? 'UNBIND' : 'BIND');
        }
        if (!ub) this.emit('bound', batch);
      },
    };
    return sendBindBatches(link, [...bindBatches(names, o)], unbind, this.o.bindWindow, (f) => {
      if (unbind || this.stopped) return;
      if (f.error.kind === 'encode') {
        for (const n of f.names) this.bound.delete(n);
      } else if (f.error.kind === 'response' && ws === this.ws) {
        // Refused by the platform: not bound, reported once, the batch sent again (whole) after a backoff.
        // A batch refused again on its retry is already waiting for the next one.
        if (!this.refused.isNew(f.names)) return;
        this.refused.add(f.names, f.error, (retry) =>
          ws === this.ws
            ? this.sendBinds(ws, retry, false).then((r) => r.length === 0)
            : Promise.resolve(true),
        );
      } else if (ws !== this.ws) {
        return; // lost with its connection: bound again on the next one, not worth an event
      }
      this.emit('bindError', f);
    });
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
    const id = this.pending.nextRequestId();
    let frames: Buffer[];
    try {
      frames = this.frames(requestMessage(req, id, this.sessionId));
    } catch (e) {
      return Promise.reject(toClientError(e, what));
    }
    this.stats.sent++;
    return this.exchange(ws, frames, id, what, req.timeoutMs ?? this.o.requestTimeoutMs).then(
      (resp) => {
        if (resp.code === MessageCode.SUCCESS) {
          this.stats.acked++;
          return successOf(resp);
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

  protected override afterPush(thing: string, entries: readonly VtqEntry[]): void {
    if (this.bound.has(thing)) this.pushed.record(thing, entries);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection

  private setState(state: ClientState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state, this._lastError);
  }

  private frames(msg: AlwaysOnMessage): Buffer[] {
    return splitMessage(encodeMessage(msg), {
      chunkSize: this.o.chunkSize,
      maxMessageSize: this.o.maxMessageSize,
    });
  }

  private connect(): void {
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = openSocket(this.url, this.options, this.o);
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
    ws.on('error', (err) => this.drop(ws, classifySocketError(err)));
    ws.on('close', (code, reason) => {
      const why = reason.toString() || `close code ${code}`;
      this.teardown(ws, new AlwaysOnClientError('disconnected', `connection closed: ${why}`));
    });
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.keepAlive = startKeepAlive(ws, this.o, () =>
      this.drop(ws, new AlwaysOnClientError('timeout', `no pong within ${this.o.pongTimeoutMs} ms`)),
    );
    void this.handshake(ws);
  }

  private async handshake(ws: WebSocket): Promise<void> {
    try {
      const id = this.pending.nextRequestId();
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
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.keepAlive?.stop();
    this.keepAlive = undefined;
    this.authenticated = false;
    this.sessionId = undefined;
    this.refused.clear();
    this.reassembler.clear();
    if (err && !this.stopped) this._lastError = err;
    const failure = this.stopped
      ? new AlwaysOnClientError('closed', 'client closed')
      : new AlwaysOnClientError('disconnected', `connection lost${err ? `: ${err.message}` : ''}`, {
          cause: err,
        });
    this.pending.rejectAll(failure, err);
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
    return this.pending.wait(id, what, timeoutMs, () => {
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
      if (!this.pending.settle(msg)) this.stats.lateResponses++;
    } else if (msg.kind === 'request') {
      void this.onServerRequest(ws, msg);
    } else {
      this.protocolError(ws, buf, new Error(`unexpected ${msg.kind} message from the platform`));
    }
  }

  private protocolError(ws: WebSocket, frame: Buffer, e: unknown): void {
    this.stats.protocolErrors++;
    const err = answerUndecodable(frame, e, (m) => this.sendMessage(ws, m));
    // An answer we cannot read (a value we cannot represent) fails its request now, not at its timeout.
    const id = responseIdOf(frame);
    if (id !== undefined && this.pending.fail(id, err)) return;
    this.emit('protocolError', err);
  }

  private async onServerRequest(ws: WebSocket, req: RequestMessage): Promise<void> {
    this.stats.serverRequests++;
    const ctx = {
      isBound: (t: string) => this.bound.has(t),
      onNotifyPropertyUpdate: (t: string) => this.emit('propertyUpdate', t),
      lastValue: (t: string, p: string) => this.pushed.get(t, p),
      propertyWriteHandler: this.propertyWriteHandler,
      metadata: this.options.metadata,
    };
    await answerAndSend(req, ctx, (m) => this.sendMessage(ws, m));
  }
}
