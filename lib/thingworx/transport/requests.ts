import { SlotMap } from '../../collections';
import { Characteristic, EntityType, MessageCode, type RequestCode } from '../alwayson/constants';
import { AlwaysOnEncodeError } from '../alwayson/errors';
import { buildRequestMessage } from '../alwayson/helpers';
import type { RequestMessage, ResponseMessage } from '../alwayson/messages';
import type { InfoTable } from '../alwayson/values';
import { AlwaysOnClientError } from './errors';

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

export const CODE_VERB: Record<number, string> = { 1: 'GET', 2: 'PUT', 3: 'POST', 4: 'DELETE' };
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

/** The REQUEST message of a client request. */
export function requestMessage(req: ClientRequest, requestId: number, sessionId?: number): RequestMessage {
  return buildRequestMessage({
    code: req.code ?? MessageCode.POST,
    requestId,
    sessionId,
    entityType: req.entityType ?? EntityType.THING,
    entityName: req.entityName,
    characteristic: req.characteristic ?? Characteristic.SERVICES,
    characteristicName: req.characteristicName,
    params: req.params,
  });
}

/** A 0x40 response as the caller sees it. */
export function successOf(resp: ResponseMessage): ClientResponse {
  const out: ClientResponse = { code: resp.code };
  if (resp.body.reason !== undefined) out.reason = resp.body.reason;
  if (resp.body.content) out.content = resp.body.content;
  return out;
}

export function toClientError(e: unknown, what: string): AlwaysOnClientError {
  if (e instanceof AlwaysOnClientError) return e;
  if (e instanceof AlwaysOnEncodeError)
    return new AlwaysOnClientError('encode', `${what}: ${e.message}`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new AlwaysOnClientError('transport', `${what}: ${msg}`, { cause: e });
}

interface Pending {
  resolve: (msg: ResponseMessage) => void;
  reject: (err: AlwaysOnClientError) => void;
  timer: NodeJS.Timeout;
  what: string;
}

/** Requests in flight on one connection, by request id, each with its timeout. */
export class PendingRequests {
  private nextId = 0;
  /** A SlotMap, not a Map: a request per uplink (lib/collections/slot-map.ts). */
  private readonly pending = new SlotMap<number, Pending>();

  constructor(private readonly onTimeout: () => void) {}

  get size(): number {
    return this.pending.size;
  }

  /** A request id not in flight (1 … 0xFFFFFFFE, wrapping). */
  nextRequestId(): number {
    for (;;) {
      this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
  }

  /** Wait for the response to `id`; `send` is called once the wait is registered. */
  wait(id: number, what: string, timeoutMs: number, send: () => void): Promise<ResponseMessage> {
    return new Promise<ResponseMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.get(id)?.timer !== timer) return;
        this.pending.delete(id);
        this.onTimeout();
        reject(new AlwaysOnClientError('timeout', `${what}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, what });
      send();
    });
  }

  /** Hand a response to its request; false when none waits for it (it came after its timeout). */
  settle(msg: ResponseMessage): boolean {
    const p = this.pending.get(msg.requestId);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(msg.requestId);
    p.resolve(msg);
    return true;
  }

  /** Reject one request in flight (its answer came but could not be read); false when none waits for it. */
  fail(requestId: number, err: AlwaysOnClientError): boolean {
    const p = this.pending.get(requestId);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
    p.reject(new AlwaysOnClientError(err.kind, `${p.what}: ${err.message}`, { cause: err.cause }));
    return true;
  }

  /** Reject every request in flight with `failure` (its message prefixed by what each request was). */
  rejectAll(failure: AlwaysOnClientError, cause: unknown): void {
    // In the order they were sent (ids count up; a wrap-around at 2^32 is not worth ordering).
    const pending = this.pending
      .entries()
      .sort((a, b) => a[0] - b[0])
      .map(([, p]) => p);
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        new AlwaysOnClientError(failure.kind, `${p.what}: ${failure.message}`, {
          cause: failure.cause ?? cause,
        }),
      );
    }
  }
}
