import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo, Socket } from 'net';
import * as os from 'os';
import * as path from 'path';
import WebSocket, { WebSocketServer } from 'ws';
import {
  buildRequestMessage,
  buildResponse,
  Characteristic,
  decodeHeader,
  DEFAULT_CHUNK_SIZE,
  encodeMessage,
  EntityType,
  isRequestCode,
  MessageCode,
  MultipartReassembler,
  NO_SESSION,
  propertyPutParams,
  splitMessage,
  type AlwaysOnMessage,
  type InfoTable,
  type RequestMessage,
  type ResponseMessage,
  type TypedValue,
} from '../lib/thingworx';
import { AlwaysOnEntityStore, type EntityStoreOptions } from './alwayson-services';

export type { ServerTemplate, ServerThing, StoredValue } from './alwayson-services';

/**
 * A strict AlwaysOn server for tests, on `ws`, decoding with our codec. It checks what ThingWorx checks (and some
 * more), records every protocol violation in `violations`, and keeps a small entity store (templates, Things,
 * property values) with the provisioning services the connector uses.
 *
 * Strictness:
 * - upgrade on `/Thingworx/WS` only; a wrong or missing `appKey` header is refused with HTTP 401 (or, with
 *   `checkUpgradeKey: false`, accepted and then failed at AUTH); a missing `Max-Frame-Size` header is a violation;
 * - the first message must be AUTH (session 0xFFFFFFFF, one claim `appKey` with the right key) within
 *   `authTimeoutMs`: anything else is answered 0x81 and the socket closed;
 * - every later message must carry the session id handed out at AUTH (else 0x81 and close); a second AUTH is 0x80;
 * - a frame larger than `chunkSize` (8192) is a violation (the client must split into multipart chunks);
 * - BIND of a name not in the store refuses the whole BIND with 0x84 (nothing of it is bound);
 * - a request id already in flight on the connection is a violation (answered 0x80);
 * - a response must echo a request id this server sent and is still waiting for, else it is a violation.
 */
export interface AlwaysOnServerOptions extends EntityStoreOptions {
  appKey: string;
  /** PEM certificate and key: serve `wss://` instead of `ws://`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** AUTH must arrive within this after the upgrade (default 15 000 ms, as ThingWorx). */
  authTimeoutMs?: number;
  /** Allow CreateThingTemplate / AddPropertyDefinition / CreateThing (default true; false → 0x83). */
  allowCreate?: boolean;
  /** Refuse a wrong `appKey` upgrade header with HTTP 401 (default true). */
  checkUpgradeKey?: boolean;
  /** Largest frame accepted without a violation and used for our own chunks (default 8192). */
  chunkSize?: number;
  /** QueryImplementingThingsOptimized `maxItems` when absent (default 500). */
  defaultMaxItems?: number;
  /** Largest page QueryImplementingThingsOptimized returns, whatever `maxItems` says (default unlimited). */
  maxItemsCap?: number;
  /** Accept permessage-deflate when offered (default true). */
  compression?: boolean;
  /** The "Last in wins" setting (default true; see `lastInWins`). */
  lastInWins?: boolean;
  /** Most log entries kept (default 300 000; older ones are dropped). */
  logLimit?: number;
}

export interface LogEntry {
  conn: number;
  at: number;
  msg: AlwaysOnMessage;
  /** Frames the message arrived in (1 unless multipart). */
  frames: number;
}

export type InterceptResult = { code: number; reason?: string; content?: InfoTable } | 'ignore' | undefined;

interface OutPending {
  resolve: (r: ResponseMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Conn {
  id: number;
  ws: WebSocket;
  headers: http.IncomingHttpHeaders;
  socket: Socket;
  sessionId?: number;
  authed: boolean;
  /** The application key the session was opened with. */
  key?: string;
  closed: boolean;
  bound: Set<string>;
  reassembler: MultipartReassembler;
  chunkCounts: Map<number, number>;
  authTimer?: NodeJS.Timeout;
  inFlight: Set<number>;
  pendingOut: Map<number, OutPending>;
  /** Answers owed to raw frames (sendRaw), per request id (a frame sent twice is owed two), with its session. */
  rawAnswers: Map<number, Array<{ sessionId: number; pending: OutPending }>>;
}

/** A self-signed EC certificate for 127.0.0.1 / localhost, made with the `openssl` CLI in a temp directory. */
export function makeTestCertificate(): { cert: string; key: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alwayson-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr || r.error}`);
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), dir };
}

export class AlwaysOnTestServer extends AlwaysOnEntityStore {
  port = 0;
  readonly log: LogEntry[] = [];
  readonly violations: string[] = [];
  readonly counters = {
    upgradesRefused: 0,
    connections: 0,
    authOk: 0,
    authFailed: 0,
    framesIn: 0,
    framesOut: 0,
    chunkFramesIn: 0,
    maxFrameIn: 0,
    pingsReceived: 0,
  };
  /**
   * The application key accepted now. Changing it revokes the old one: the upgrade and AUTH refuse it, and a session
   * opened with it gets 0x81 for every request or BIND, as a platform does once a key is revoked or has expired.
   */
  appKey: string;
  /** Answer WebSocket pings (set false to make a client's keep-alive fail). */
  respondToPings = true;
  /** Leave UNBINDs unanswered (a platform too busy to answer before the edge goes). */
  ignoreUnbind = false;
  /**
   * The WS communications setting "Last in wins": a BIND of a Thing bound on another connection moves it (true) or
   * is refused whole with "Binding failed" (false). Default true.
   */
  lastInWins: boolean;
  /** Fault injection for client requests: a response to send instead, `'ignore'` (never answer), or undefined. */
  interceptor?: (msg: RequestMessage, conn: number) => InterceptResult | Promise<InterceptResult>;
  private readonly conns = new Map<number, Conn>();
  private readonly closedWire = { in: 0, out: 0 };
  private readonly boundTo = new Map<string, Conn>();
  private http?: http.Server | https.Server;
  private wss?: WebSocketServer;
  private nextConnId = 0;
  private nextRequestId = 0;
  private readonly chunkSize: number;

  constructor(readonly options: AlwaysOnServerOptions) {
    super(options);
    this.lastInWins = options.lastInWins ?? true;
    this.appKey = options.appKey;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  }

  get url(): string {
    return `${this.options.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/Thingworx/WS`;
  }

  /** Ids of the open connections. */
  get connectionIds(): number[] {
    return [...this.conns.keys()];
  }

  async start(): Promise<this> {
    const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(404).end();
    };
    this.http = this.options.tls
      ? https.createServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler)
      : http.createServer(handler);
    this.wss = new WebSocketServer({
      server: this.http,
      path: '/Thingworx/WS',
      autoPong: false,
      // ThingWorx's WebSocket endpoint accepts permessage-deflate when the edge offers it.
      perMessageDeflate: this.options.compression ?? true,
      maxPayload: 2 * 1024 * 1024,
      verifyClient: (info, cb) => {
        const key = info.req.headers['appkey'];
        if ((this.options.checkUpgradeKey ?? true) && key !== this.appKey) {
          this.counters.upgradesRefused++;
          cb(false, 401, 'Unauthorized');
          return;
        }
        cb(true);
      },
    });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    return this;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Bindings

  isBound(thing: string): boolean {
    return this.boundTo.has(thing);
  }

  protected override isConnected(thing: string): boolean {
    return this.boundTo.has(thing);
  }

  get boundCount(): number {
    return this.boundTo.size;
  }

  /** The connection a Thing is bound on. */
  connectionOf(thing: string): number | undefined {
    return this.boundTo.get(thing)?.id;
  }

  /** Names bound per open connection. */
  boundByConnection(): Map<number, ReadonlySet<string>> {
    const m = new Map<number, ReadonlySet<string>>();
    for (const c of this.conns.values()) m.set(c.id, c.bound);
    return m;
  }

  /** Session id of a connection (undefined before AUTH). */
  sessionOf(conn: number): number | undefined {
    return this.conns.get(conn)?.sessionId;
  }

  /** Upgrade headers of a connection. */
  headersOf(conn: number): http.IncomingHttpHeaders | undefined {
    return this.conns.get(conn)?.headers;
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Logged messages of one kind (and, for requests, one characteristic name). */
  received(kind: AlwaysOnMessage['kind'], characteristicName?: string): LogEntry[] {
    return this.log.filter(
      (e) =>
        e.msg.kind === kind &&
        (characteristicName === undefined ||
          (e.msg.kind === 'request' && e.msg.body.characteristicName === characteristicName)),
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Server → edge

  /**
   * PUT a property of a bound Thing (as the platform does for a remote property write); resolves with the answer.
   * `via` (a connection id) sends it there, for Things that are not bound.
   */
  putProperty(
    thing: string,
    property: string,
    value: TypedValue,
    timeoutMs = 5000,
    via?: number,
  ): Promise<{ code: number; reason?: string }> {
    const conn = via !== undefined ? this.conns.get(via) : this.boundTo.get(thing);
    if (!conn) return Promise.reject(new Error(`Thing ${thing} is not bound`));
    return this.sendRequest(conn, {
      code: MessageCode.PUT,
      entityType: EntityType.THING,
      entityName: thing,
      characteristic: Characteristic.PROPERTIES,
      characteristicName: property,
      params: propertyPutParams(property, value),
      timeoutMs,
    }).then((r) => ({ code: r.code, reason: r.body.reason }));
  }

  /**
   * Call a service of a Thing on the edge (GetMetadata, NotifyPropertyUpdate, …). Goes to the connection the Thing
   * is bound on, or `via` (a connection id) for Things that are not bound.
   */
  callEdgeService(
    thing: string,
    service: string,
    params?: InfoTable,
    opts: { via?: number; timeoutMs?: number; entityType?: number } = {},
  ): Promise<ResponseMessage> {
    const conn = opts.via !== undefined ? this.conns.get(opts.via) : this.boundTo.get(thing);
    if (!conn) return Promise.reject(new Error(`no connection for ${thing}`));
    return this.sendRequest(conn, {
      code: MessageCode.POST,
      entityType: opts.entityType ?? EntityType.THING,
      entityName: thing,
      characteristic: Characteristic.SERVICES,
      characteristicName: service,
      params,
      timeoutMs: opts.timeoutMs ?? 5000,
    });
  }

  /** GET a property from the edge (as the platform does to read a remote property); resolves with the answer. */
  getProperty(thing: string, property: string, timeoutMs = 5000): Promise<ResponseMessage> {
    const conn = this.boundTo.get(thing);
    if (!conn) return Promise.reject(new Error(`Thing ${thing} is not bound`));
    return this.sendRequest(conn, {
      code: MessageCode.GET,
      entityType: EntityType.THING,
      entityName: thing,
      characteristic: Characteristic.PROPERTIES,
      characteristicName: property,
      timeoutMs,
    });
  }

  /**
   * Read a property as a mashup or a service on the platform would: a remote property whose `cacheTime` is -1 is
   * the value last pushed; any other is read from the edge (GET) when the Thing is bound.
   */
  async readProperty(thing: string, property: string): Promise<TypedValue | undefined> {
    const t = this.things.get(thing);
    if (!t) throw new Error(`no Thing ${thing}`);
    const aspects = this.propertyAspects(t.template, property);
    if (aspects?.cacheTime === -1 || !this.boundTo.has(thing)) return t.properties.get(property)?.value;
    const r = await this.getProperty(thing, property);
    if (r.code !== MessageCode.SUCCESS)
      throw new Error(`GET ${property}: 0x${r.code.toString(16)} ${r.body.reason ?? ''}`);
    const row = r.body.content?.rows[0];
    return row && Object.prototype.hasOwnProperty.call(row, property) ? row[property] : undefined;
  }

  /** Send raw frames on a connection (tests of the client's decoding). */
  sendFrames(conn: number, frames: Buffer[]): void {
    const c = this.conns.get(conn);
    if (!c) throw new Error(`no connection ${conn}`);
    for (const f of frames) this.sendFrame(c, f);
  }

  /**
   * Send raw frames, garbled ones included (as text frames with `text`), and wait for the answers the client owes:
   * `answers` lists the ids (and session) read from the frames' own headers, once per answer owed. Only those answers
   * are taken, even with the frame's odd session; any other answer stays a violation. Resolves with them in order,
   * rejects when one does not come within `timeoutMs`.
   */
  sendRaw(
    conn: number,
    frames: Buffer[],
    options: {
      text?: boolean;
      answers?: Array<{ requestId: number; sessionId: number }>;
      timeoutMs?: number;
    } = {},
  ): Promise<ResponseMessage[]> {
    const c = this.conns.get(conn);
    if (!c) return Promise.reject(new Error(`no connection ${conn}`));
    const waits = (options.answers ?? []).map(({ requestId, sessionId }) => {
      if (c.pendingOut.has(requestId))
        return Promise.reject(new Error(`request id ${requestId} is awaited by a request of the server`));
      return new Promise<ResponseMessage>((resolve, reject) => {
        const owed = c.rawAnswers.get(requestId) ?? [];
        const entry = {
          sessionId,
          pending: {
            resolve,
            reject,
            timer: setTimeout(() => {
              owed.splice(owed.indexOf(entry), 1);
              if (owed.length === 0) c.rawAnswers.delete(requestId);
              reject(
                new Error(`no answer to raw request ${requestId} within ${options.timeoutMs ?? 5000} ms`),
              );
            }, options.timeoutMs ?? 5000),
          },
        };
        owed.push(entry);
        c.rawAnswers.set(requestId, owed);
      });
    });
    for (const f of frames) {
      if (c.ws.readyState !== WebSocket.OPEN) break;
      c.ws.send(options.text ? f.toString('latin1') : f, { binary: !options.text });
      this.counters.framesOut++;
    }
    return Promise.all(waits);
  }

  private sendRequest(
    conn: Conn,
    r: {
      code: typeof MessageCode.GET | typeof MessageCode.PUT | typeof MessageCode.POST;
      entityType: number;
      entityName: string;
      characteristic: number;
      characteristicName: string;
      params?: InfoTable;
      timeoutMs: number;
    },
  ): Promise<ResponseMessage> {
    if (!conn.authed || conn.closed)
      return Promise.reject(new Error(`connection ${conn.id} is not authenticated`));
    const id = (this.nextRequestId = (this.nextRequestId % 0x7fffffff) + 1);
    const msg = buildRequestMessage({ ...r, requestId: id, sessionId: conn.sessionId });
    return new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.pendingOut.delete(id);
        reject(new Error(`no response to ${r.characteristicName} within ${r.timeoutMs} ms`));
      }, r.timeoutMs);
      conn.pendingOut.set(id, { resolve, reject, timer });
      this.sendMessage(conn, msg);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connections

  /** Kill every connection at once (no close handshake), as a network outage would. */
  drop(): void {
    for (const c of this.conns.values()) c.ws.terminate();
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) c.ws.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => {
      if (!this.http) return resolve();
      this.http.close(() => resolve());
      if ('closeAllConnections' in this.http) this.http.closeAllConnections();
    });
  }

  private violation(conn: Conn | undefined, text: string): void {
    const v = conn ? `conn ${conn.id}: ${text}` : text;
    this.violations.push(v);
    this.emit('violation', v);
  }

  /** Bytes on the wire (TCP, after TLS / compression) of every connection so far: from the edges, to the edges. */
  wireBytes(): { in: number; out: number } {
    let i = this.closedWire.in;
    let o = this.closedWire.out;
    for (const c of this.conns.values()) {
      i += c.socket.bytesRead;
      o += c.socket.bytesWritten;
    }
    return { in: i, out: o };
  }

  /** The WebSocket extensions negotiated on a connection (`permessage-deflate` when compressed). */
  extensionsOf(conn: number): string | undefined {
    return this.conns.get(conn)?.ws.extensions;
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const conn: Conn = {
      id: ++this.nextConnId,
      ws,
      headers: req.headers,
      socket: req.socket,
      authed: false,
      closed: false,
      bound: new Set(),
      reassembler: new MultipartReassembler(),
      chunkCounts: new Map(),
      inFlight: new Set(),
      pendingOut: new Map(),
      rawAnswers: new Map(),
    };
    this.conns.set(conn.id, conn);
    this.counters.connections++;
    if (!req.headers['max-frame-size']) this.violation(conn, 'no Max-Frame-Size upgrade header');
    conn.authTimer = setTimeout(() => {
      this.violation(conn, `no AUTH within ${this.options.authTimeoutMs ?? 15000} ms`);
      this.closeConn(conn, 1008, 'AUTH timeout');
    }, this.options.authTimeoutMs ?? 15000);
    ws.on('message', (data, isBinary) => this.onFrame(conn, data as Buffer, isBinary));
    ws.on('ping', (data) => {
      this.counters.pingsReceived++;
      if (this.respondToPings) ws.pong(data);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => this.onClose(conn));
    this.emit('connection', conn.id);
  }

  private onClose(conn: Conn): void {
    conn.closed = true;
    this.closedWire.in += conn.socket.bytesRead;
    this.closedWire.out += conn.socket.bytesWritten;
    if (conn.authTimer) clearTimeout(conn.authTimer);
    this.conns.delete(conn.id);
    for (const n of conn.bound) if (this.boundTo.get(n) === conn) this.boundTo.delete(n);
    conn.bound.clear();
    for (const p of [
      ...conn.pendingOut.values(),
      ...[...conn.rawAnswers.values()].flat().map((r) => r.pending),
    ]) {
      clearTimeout(p.timer);
      p.reject(new Error('connection closed'));
    }
    conn.pendingOut.clear();
    conn.rawAnswers.clear();
    this.emit('disconnect', conn.id);
  }

  private closeConn(conn: Conn, code: number, reason: string): void {
    if (conn.closed) return;
    try {
      conn.ws.close(code, reason);
    } catch {
      conn.ws.terminate();
    }
    // Do not wait for a misbehaving client's close frame.
    setTimeout(() => conn.ws.terminate(), 200).unref();
  }

  private sendFrame(conn: Conn, frame: Buffer): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.send(frame, { binary: true });
    this.counters.framesOut++;
  }

  private sendMessage(conn: Conn, msg: AlwaysOnMessage): void {
    for (const f of splitMessage(encodeMessage(msg), { chunkSize: this.chunkSize })) this.sendFrame(conn, f);
  }

  private respond(
    conn: Conn,
    req: { requestId: number; endpointId: number; sessionId: number },
    code: number,
    reason?: string,
    content?: InfoTable,
  ): void {
    this.sendMessage(conn, buildResponse(req, code, content, reason));
  }

  private onFrame(conn: Conn, buf: Buffer, isBinary: boolean): void {
    this.counters.framesIn++;
    this.counters.maxFrameIn = Math.max(this.counters.maxFrameIn, buf.length);
    if (!isBinary) {
      this.violation(conn, 'text frame');
      this.closeConn(conn, 1003, 'binary frames only');
      return;
    }
    if (buf.length > this.chunkSize) {
      this.violation(conn, `frame of ${buf.length} bytes is over the ${this.chunkSize}-byte frame size`);
    }
    let msg: AlwaysOnMessage | undefined;
    try {
      const h = decodeHeader(buf);
      if (h.multipart) {
        this.counters.chunkFramesIn++;
        conn.chunkCounts.set(h.requestId, (conn.chunkCounts.get(h.requestId) ?? 0) + 1);
      }
      msg = conn.reassembler.accept(buf);
    } catch (e) {
      this.violation(conn, `undecodable frame: ${(e as Error).message}`);
      try {
        const h = decodeHeader(buf);
        if (isRequestCode(h.code)) this.respond(conn, h, MessageCode.BAD_REQUEST, 'undecodable');
      } catch {
        // nothing to answer
      }
      return;
    }
    if (!msg) return;
    const frames = conn.chunkCounts.get(msg.requestId) ?? 1;
    conn.chunkCounts.delete(msg.requestId);
    this.record({ conn: conn.id, at: Date.now(), msg, frames });

    if (!conn.authed) {
      if (msg.kind !== 'auth') {
        this.violation(conn, `${msg.kind} (code 0x${msg.code.toString(16)}) before AUTH`);
        this.counters.authFailed++;
        this.respond(conn, msg, MessageCode.UNAUTHORIZED, 'AUTH first');
        this.closeConn(conn, 1008, 'AUTH first');
        return;
      }
      this.onAuth(conn, msg);
      return;
    }
    const owed = msg.kind === 'response' ? conn.rawAnswers.get(msg.requestId) : undefined;
    const raw = owed?.find((r) => r.sessionId === msg.sessionId);
    if (owed && raw) {
      clearTimeout(raw.pending.timer);
      owed.splice(owed.indexOf(raw), 1);
      if (owed.length === 0) conn.rawAnswers.delete(msg.requestId);
      raw.pending.resolve(msg as ResponseMessage);
      return;
    }
    if (msg.sessionId !== conn.sessionId) {
      this.violation(conn, `${msg.kind} with session ${msg.sessionId}, expected ${conn.sessionId}`);
      this.respond(conn, msg, MessageCode.UNAUTHORIZED, 'bad session');
      this.closeConn(conn, 1008, 'bad session');
      return;
    }
    if (conn.key !== this.appKey && (msg.kind === 'request' || msg.kind === 'bind')) {
      this.respond(conn, msg, MessageCode.UNAUTHORIZED, 'application key revoked');
      return;
    }
    switch (msg.kind) {
      case 'auth':
        this.violation(conn, 'second AUTH on an authenticated connection');
        this.respond(conn, msg, MessageCode.BAD_REQUEST, 'already authenticated');
        return;
      case 'bind':
        if (!this.checkId(conn, msg)) return;
        this.onBind(conn, msg);
        return;
      case 'request':
        if (!this.checkId(conn, msg)) return;
        void this.onRequest(conn, msg);
        return;
      case 'response': {
        const p = conn.pendingOut.get(msg.requestId);
        if (!p) {
          this.violation(
            conn,
            `response to request id ${msg.requestId} that this server did not send or no longer waits for`,
          );
          return;
        }
        clearTimeout(p.timer);
        conn.pendingOut.delete(msg.requestId);
        p.resolve(msg);
        return;
      }
      case 'keepAlive':
        return;
    }
  }

  private record(e: LogEntry): void {
    this.log.push(e);
    const limit = this.options.logLimit ?? 300000;
    if (this.log.length > limit) this.log.splice(0, this.log.length - limit);
  }

  private checkId(conn: Conn, msg: AlwaysOnMessage): boolean {
    if (conn.inFlight.has(msg.requestId)) {
      this.violation(conn, `request id ${msg.requestId} reused while still in flight`);
      this.respond(conn, msg, MessageCode.BAD_REQUEST, 'duplicate request id');
      return false;
    }
    return true;
  }

  private onAuth(conn: Conn, msg: Extract<AlwaysOnMessage, { kind: 'auth' }>): void {
    const claims = msg.body.claims;
    const ok =
      msg.sessionId === NO_SESSION &&
      claims.length === 1 &&
      claims[0].name === 'appKey' &&
      claims[0].value === this.appKey;
    if (!ok) {
      if (msg.sessionId !== NO_SESSION) this.violation(conn, `AUTH with session ${msg.sessionId}`);
      this.counters.authFailed++;
      this.respond(conn, msg, MessageCode.UNAUTHORIZED, 'Invalid credentials');
      this.closeConn(conn, 1008, 'AUTH failed');
      return;
    }
    if (conn.authTimer) clearTimeout(conn.authTimer);
    conn.authTimer = undefined;
    conn.authed = true;
    conn.key = this.appKey;
    let session = 0;
    while (session === 0 || session === NO_SESSION) session = Math.floor(Math.random() * 0xffffffff);
    conn.sessionId = session;
    this.counters.authOk++;
    this.sendMessage(conn, buildResponse({ ...msg, sessionId: session }, MessageCode.SUCCESS));
    this.emit('authenticated', conn.id);
  }

  private onBind(conn: Conn, msg: Extract<AlwaysOnMessage, { kind: 'bind' }>): void {
    const names = msg.body.names;
    if (msg.code === MessageCode.UNBIND) {
      if (this.ignoreUnbind) return;
      for (const n of names) {
        if (this.boundTo.get(n) === conn) this.boundTo.delete(n);
        conn.bound.delete(n);
      }
      this.respond(conn, msg, MessageCode.SUCCESS);
      return;
    }
    const unknown = names.filter((n) => !this.things.has(n));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? ', …' : '');
      this.respond(conn, msg, MessageCode.NOT_FOUND, `unknown Thing(s): ${shown}`);
      return;
    }
    const held = names.filter((n) => {
      const prev = this.boundTo.get(n);
      return prev !== undefined && prev !== conn;
    });
    if (held.length > 0 && !this.lastInWins) {
      // "Last in wins" off: a Thing bound by another (perhaps dead) connection refuses the whole BIND.
      const shown = held.slice(0, 5).join(', ') + (held.length > 5 ? ', …' : '');
      this.respond(
        conn,
        msg,
        MessageCode.FORBIDDEN,
        `Binding failed: ${shown} already bound to another connection`,
      );
      return;
    }
    for (const n of names) {
      const prev = this.boundTo.get(n);
      if (prev && prev !== conn) prev.bound.delete(n); // "last in wins"
      conn.bound.add(n);
      this.boundTo.set(n, conn);
    }
    this.respond(conn, msg, MessageCode.SUCCESS);
    this.emit('bind', conn.id, names);
  }

  private async onRequest(conn: Conn, msg: RequestMessage): Promise<void> {
    conn.inFlight.add(msg.requestId);
    try {
      let out: InterceptResult = this.interceptor ? await this.interceptor(msg, conn.id) : undefined;
      if (out === undefined) out = this.execute(msg);
      if (out === 'ignore' || conn.closed) return;
      this.respond(conn, msg, out.code, out.reason, out.content);
      this.emit('request', conn.id, msg, out.code);
    } finally {
      conn.inFlight.delete(msg.requestId);
    }
  }
}
