import {
  buildRequestMessage,
  Characteristic,
  EntityType,
  MessageCode,
  propertyPutParams,
  type InfoTable,
  type ResponseMessage,
  type TypedValue,
} from '../lib/thingworx';
import { AlwaysOnConnections } from './alwayson-connections';
import type { Conn } from './alwayson-server-types';

export type { ServerTemplate, ServerThing, StoredValue, PropertyAspects } from './alwayson-services';
export type { AlwaysOnServerOptions, InterceptResult, LogEntry } from './alwayson-server-types';
export { makeTestCertificate } from './test-certificate';

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
export class AlwaysOnTestServer extends AlwaysOnConnections {
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
}
