import { BaseType, Characteristic, EntityType, MessageCode, NO_SESSION, type RequestCode } from './constants';
import { AlwaysOnEncodeError } from './errors';
import type {
  AuthMessage,
  BindGateway,
  BindMessage,
  MessageIds,
  RequestBody,
  RequestHeaderEntry,
  RequestMessage,
  ResponseMessage,
} from './messages';
import {
  setOwn,
  type FieldDefinition,
  type InfoTable,
  type InfoTableRow,
  type Location,
  type TypedValue,
} from './values';

/** Shorthands that build `TypedValue`s. */
export const Typed = {
  string: (value: string): TypedValue => ({ baseType: BaseType.STRING, value }),
  number: (value: number): TypedValue => ({ baseType: BaseType.NUMBER, value }),
  integer: (value: number): TypedValue => ({ baseType: BaseType.INTEGER, value }),
  long: (value: number): TypedValue => ({ baseType: BaseType.LONG, value }),
  boolean: (value: boolean): TypedValue => ({ baseType: BaseType.BOOLEAN, value }),
  datetime: (value: number | Date): TypedValue => ({
    baseType: BaseType.DATETIME,
    value: value instanceof Date ? value.getTime() : value,
  }),
  location: (value: Location): TypedValue => ({ baseType: BaseType.LOCATION, value }),
  blob: (value: Uint8Array): TypedValue => ({ baseType: BaseType.BLOB, value }),
  /** JSON text as is, or any other value through JSON.stringify. */
  json: (value: unknown): TypedValue => ({
    baseType: BaseType.JSON,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }),
  infotable: (value: InfoTable): TypedValue => ({ baseType: BaseType.INFOTABLE, value }),
  /** Wraps in a VARIANT (a value that already is one is returned as is). */
  variant: (value: TypedValue): TypedValue =>
    value.baseType === BaseType.VARIANT ? value : { baseType: BaseType.VARIANT, value },
  nothing: (): TypedValue => ({ baseType: BaseType.NOTHING, value: null }),
} as const;

/** The value inside any number of VARIANT wrappers. */
export function unwrapVariant(v: TypedValue): TypedValue {
  let cur = v;
  while (cur.baseType === BaseType.VARIANT) cur = cur.value;
  return cur;
}

/** Parse the text of a JSON (or string-family) value; undefined when it is not JSON text. */
export function parseJsonValue(v: TypedValue): unknown {
  const inner = unwrapVariant(v);
  if (typeof inner.value !== 'string') return undefined;
  try {
    return JSON.parse(inner.value);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// InfoTables

/** A one-row InfoTable with one column per entry, e.g. a property PUT's params or a service result. */
export function singleRowTable(
  values: Record<string, TypedValue>,
  descriptions?: Record<string, string>,
): InfoTable {
  const dataShape: FieldDefinition[] = [];
  const row: InfoTableRow = {};
  for (const name of Object.keys(values)) {
    const v = values[name];
    const field: FieldDefinition = { name, baseType: v.baseType };
    const d = descriptions?.[name];
    if (d) field.description = d;
    dataShape.push(field);
    setOwn(row, name, v);
  }
  return { dataShape, rows: [row] };
}

/** DataShape NamedVTQ: name STRING, value VARIANT, time DATETIME, quality STRING. */
export function namedVtqDataShape(): FieldDefinition[] {
  return [
    { name: 'name', baseType: BaseType.STRING },
    { name: 'value', baseType: BaseType.VARIANT },
    { name: 'time', baseType: BaseType.DATETIME },
    { name: 'quality', baseType: BaseType.STRING },
  ];
}

export interface VtqEntry {
  /** Property name. */
  name: string;
  /** Wrapped in a VARIANT unless it already is one. */
  value: TypedValue;
  /** ms since the epoch or a Date; defaults to now. */
  time?: number | Date;
  /** Defaults to `GOOD`. */
  quality?: string;
}

/** A NamedVTQ InfoTable, one row per entry. */
export function buildNamedVtqTable(entries: readonly VtqEntry[], now: () => number = Date.now): InfoTable {
  return {
    dataShape: namedVtqDataShape(),
    rows: entries.map((e) => ({
      name: Typed.string(e.name),
      value: Typed.variant(e.value),
      time: Typed.datetime(e.time ?? now()),
      quality: Typed.string(e.quality ?? 'GOOD'),
    })),
  };
}

/** Params of UpdateSubscribedPropertyValues: one column `values` (INFOTABLE) holding the NamedVTQ table. */
export function updateSubscribedPropertyValuesParams(
  entries: readonly VtqEntry[],
  now?: () => number,
): InfoTable {
  return singleRowTable({ values: Typed.infotable(buildNamedVtqTable(entries, now)) });
}

// ---------------------------------------------------------------------------------------------------------------
// Property PUT (downlink)

/**
 * The value of a property PUT: params is an InfoTable with a column named after the property, row 0 holds the
 * value. `propertyName` defaults to the request's characteristic name. Undefined when the body does not have that
 * shape (not PROPERTIES, no params, no such column, no row, NOTHING in the cell).
 */
export function readPropertyPut(
  body: RequestBody,
  propertyName: string = body.characteristicName,
): { property: string; value: TypedValue } | undefined {
  if (body.characteristic !== Characteristic.PROPERTIES || !body.params) return undefined;
  const { dataShape, rows } = body.params;
  if (!dataShape.some((f) => f.name === propertyName) || rows.length === 0) return undefined;
  const row = rows[0];
  if (!Object.prototype.hasOwnProperty.call(row, propertyName)) return undefined;
  const value = row[propertyName];
  if (value.baseType === BaseType.NOTHING) return undefined;
  return { property: propertyName, value };
}

/** Params of a property PUT: one column named after the property, one row. */
export function propertyPutParams(property: string, value: TypedValue): InfoTable {
  const row: InfoTableRow = {};
  setOwn(row, property, value);
  return { dataShape: [{ name: property, baseType: value.baseType }], rows: [row] };
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

export interface IdOptions {
  requestId: number;
  /** Default 0. */
  endpointId?: number;
  /** Default 0. */
  sessionId?: number;
}

function ids(o: IdOptions): MessageIds {
  return { requestId: o.requestId, endpointId: o.endpointId ?? 0, sessionId: o.sessionId ?? 0 };
}

/** AUTH with the single claim `appKey`, sessionId 0xFFFFFFFF. */
export function buildAuthMessage(appKey: string, o: Omit<IdOptions, 'sessionId'>): AuthMessage {
  return {
    kind: 'auth',
    code: MessageCode.AUTH,
    ...ids({ ...o, sessionId: NO_SESSION }),
    body: { claims: [{ name: 'appKey', value: appKey }] },
  };
}

export interface BindOptions extends IdOptions {
  gateway?: BindGateway;
  unbind?: boolean;
}

/** BIND (or UNBIND) of a batch of Thing names. */
export function buildBindMessage(names: readonly string[], o: BindOptions): BindMessage {
  if (names.length > 0xffff) throw new AlwaysOnEncodeError('bind at most 65535 names per message');
  const msg: BindMessage = {
    kind: 'bind',
    code: o.unbind ? MessageCode.UNBIND : MessageCode.BIND,
    ...ids(o),
    body: { names: [...names] },
  };
  if (o.gateway) msg.body.gateway = { ...o.gateway };
  return msg;
}

export interface RequestOptions extends IdOptions {
  code: RequestCode;
  entityType?: number;
  entityName: string;
  characteristic: number;
  characteristicName: string;
  headers?: RequestHeaderEntry[];
  params?: InfoTable;
}

export function buildRequestMessage(o: RequestOptions): RequestMessage {
  const body: RequestBody = {
    entityType: o.entityType ?? EntityType.THING,
    entityName: o.entityName,
    characteristic: o.characteristic,
    characteristicName: o.characteristicName,
    headers: o.headers ?? [],
  };
  if (o.params) body.params = o.params;
  return { kind: 'request', code: o.code, ...ids(o), body };
}

/** POST Things/<thing>/Services/<service> with optional params. */
export function buildServiceCall(
  thing: string,
  service: string,
  params: InfoTable | undefined,
  o: IdOptions & { entityType?: number },
): RequestMessage {
  return buildRequestMessage({
    ...o,
    code: MessageCode.POST,
    entityName: thing,
    characteristic: Characteristic.SERVICES,
    characteristicName: service,
    params,
  });
}

/** POST Things/<thing>/Services/UpdateSubscribedPropertyValues with a NamedVTQ `values` param. */
export function buildUpdateSubscribedPropertyValues(
  thing: string,
  entries: readonly VtqEntry[],
  o: IdOptions & { now?: () => number },
): RequestMessage {
  return buildServiceCall(
    thing,
    'UpdateSubscribedPropertyValues',
    updateSubscribedPropertyValuesParams(entries, o.now),
    o,
  );
}

/** A response that echoes the request's requestId, endpointId and sessionId. */
export function buildResponse(
  request: MessageIds,
  code: number = MessageCode.SUCCESS,
  content?: InfoTable,
  reason?: string,
): ResponseMessage {
  if (!Number.isInteger(code) || code < MessageCode.SUCCESS || code > 0xff) {
    throw new AlwaysOnEncodeError(`response code 0x${code.toString(16)} is not >= 0x40`);
  }
  const msg: ResponseMessage = {
    kind: 'response',
    code,
    requestId: request.requestId,
    endpointId: request.endpointId,
    sessionId: request.sessionId,
    body: {},
  };
  if (reason !== undefined) msg.body.reason = reason;
  if (content) msg.body.content = content;
  return msg;
}
