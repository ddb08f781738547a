import * as http from 'http';
import * as https from 'https';
import type { AddressInfo } from 'net';
import WebSocket, { WebSocketServer } from 'ws';
import {
  buildResponse,
  decodeHeader,
  DEFAULT_CHUNK_SIZE,
  encodeMessage,
  isRequestCode,
  MessageCode,
  MultipartReassembler,
  NO_SESSION,
  splitMessage,
  type AlwaysOnMessage,
  type InfoTable,
  type RequestMessage,
  type ResponseMessage,
} from '../lib/thingworx';
import type { AlwaysOnServerOptions, Conn, InterceptResult, LogEntry } from './alwayson-server-types';
import { AlwaysOnEntityStore } from './alwayson-services';

/**
 * The strict AlwaysOn test server's side of the protocol: the WebSocket endpoint, AUTH, sessions, BIND / UNBIND,
 * frames and the answers to the edge's requests (the services themselves: AlwaysOnEntityStore). Its strictness is
 * described on AlwaysOnTestServer.
 */
export class AlwaysOnConnections extends AlwaysOnEntityStore {
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
  protected readonly conns = new Map<number, Conn>();
  private readonly closedWire = { in: 0, out: 0 };
  protected readonly boundTo = new Map<string, Conn>();
  private http?: http.Server | https.Server;
  private wss?: WebSocketServer;
  private nextConnId = 0;
  protected nextRequestId = 0;
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

  protected sendFrame(conn: Conn, frame: Buffer): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.send(frame, { binary: true });
    this.counters.framesOut++;
  }

  protected sendMessage(conn: Conn, msg: AlwaysOnMessage): void {
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
