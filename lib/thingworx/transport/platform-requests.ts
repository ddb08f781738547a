import {
  Characteristic,
  EntityType,
  isRequestCode,
  isResponseCode,
  MessageCode,
} from '../alwayson/constants';
import {
  buildResponse,
  namedVtqDataShape,
  propertyPutParams,
  readPropertyPut,
  singleRowTable,
  Typed,
} from '../alwayson/helpers';
import { decodeHeader, type RequestMessage, type ResponseMessage } from '../alwayson/messages';
import type { TypedValue } from '../alwayson/values';
import { AlwaysOnClientError, describeCode } from './errors';
import type { PropertyWriteHandler } from './options';
import { CODE_VERB } from './requests';

/** What answering the platform's requests needs from the connection. */
export interface PlatformRequestContext {
  isBound(thing: string): boolean;
  /** The platform says the Thing's property settings changed. */
  onNotifyPropertyUpdate?(thing: string): void;
  /** The last value pushed of a property of a bound Thing. */
  lastValue?(thing: string, property: string): TypedValue | undefined;
  propertyWriteHandler?: PropertyWriteHandler;
  metadata?: (thing: string) => unknown;
}

/**
 * The answer to a request the platform sent: a property PUT (a write the handler accepts or refuses), or one of the
 * services the platform calls on a bound Thing (NotifyPropertyUpdate, GetMetadata, SynchronizeModelState).
 */
export async function answerPlatformRequest(
  req: RequestMessage,
  ctx: PlatformRequestContext,
): Promise<ResponseMessage> {
  const b = req.body;
  const fail = (code: number, reason: string): ResponseMessage => buildResponse(req, code, undefined, reason);
  if (b.entityType !== EntityType.THING || !ctx.isBound(b.entityName)) {
    return fail(MessageCode.NOT_FOUND, `Thing ${b.entityName} is not bound on this connection`);
  }
  const thing = b.entityName;
  if (b.characteristic === Characteristic.PROPERTIES) {
    if (req.code === MessageCode.GET) {
      // The platform reads a remote property whose cacheTime is not -1: the last value we pushed is its value.
      const value = ctx.lastValue?.(thing, b.characteristicName);
      if (!value) return fail(MessageCode.NOT_FOUND, `no value pushed for property ${b.characteristicName}`);
      return buildResponse(req, MessageCode.SUCCESS, propertyPutParams(b.characteristicName, value));
    }
    if (req.code !== MessageCode.PUT) {
      return fail(
        MessageCode.METHOD_NOT_ALLOWED,
        `${CODE_VERB[req.code]} of property ${b.characteristicName}`,
      );
    }
    const put = readPropertyPut(b);
    if (!put) return fail(MessageCode.BAD_REQUEST, `no value for property ${b.characteristicName}`);
    const handler = ctx.propertyWriteHandler;
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
        ctx.onNotifyPropertyUpdate?.(thing);
        return buildResponse(req);
      case 'GetMetadata': {
        const meta = ctx.metadata?.(thing) ?? {
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
        // As the SDK answers a service no callback is registered for.
        return fail(MessageCode.NOT_FOUND, `service ${b.characteristicName} is not implemented`);
    }
  }
  return fail(MessageCode.METHOD_NOT_ALLOWED, `characteristic ${b.characteristic} is not supported`);
}

/** Answer a request of the platform and send the answer; an answer that cannot be encoded is replaced by 0xA0. */
export async function answerAndSend(
  req: RequestMessage,
  ctx: PlatformRequestContext,
  send: (msg: ResponseMessage) => void,
): Promise<void> {
  let resp: ResponseMessage;
  try {
    resp = await answerPlatformRequest(req, ctx);
  } catch (e) {
    resp = buildResponse(
      req,
      MessageCode.INTERNAL_SERVER_ERROR,
      undefined,
      String((e as Error)?.message ?? e),
    );
  }
  try {
    send(resp);
  } catch (e) {
    // The answer itself could not be encoded (too large, bad value): say so instead.
    send(
      buildResponse(
        req,
        MessageCode.INTERNAL_SERVER_ERROR,
        undefined,
        `response not encodable: ${String(e)}`,
      ),
    );
  }
}

/**
 * A frame from the platform that cannot be decoded: answered 0x80 when its header says it is a request (so the
 * platform does not wait), and returned as a `protocol` error to report.
 */
export function answerUndecodable(
  frame: Buffer,
  e: unknown,
  send: (msg: ResponseMessage) => void,
): AlwaysOnClientError {
  const err = new AlwaysOnClientError(
    'protocol',
    `bad frame from the platform: ${(e as Error)?.message ?? e}`,
    {
      cause: e,
    },
  );
  try {
    const h = decodeHeader(frame);
    if (isRequestCode(h.code))
      send(buildResponse(h, MessageCode.BAD_REQUEST, undefined, 'undecodable request'));
  } catch {
    // not even a header: nothing to answer
  }
  return err;
}

/** The request id of a frame whose header says it is a response, if it has a readable header. */
export function responseIdOf(frame: Buffer): number | undefined {
  try {
    const h = decodeHeader(frame);
    return isResponseCode(h.code) ? h.requestId : undefined;
  } catch {
    return undefined;
  }
}
