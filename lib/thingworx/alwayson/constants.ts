/** AlwaysOn protocol version carried in header byte 0. */
export const PROTOCOL_VERSION = 0x01;
/** Fixed header: version, code, requestId, endpointId, sessionId, multipart flag. */
export const HEADER_SIZE = 15;
/** Extra bytes after the header of a multipart chunk: chunkId, chunkCount, chunkSize (u16 each). */
export const MULTIPART_HEADER_SIZE = 6;
/** Largest WebSocket frame (one chunk, header included) we send, and the `Max-Frame-Size` we announce. */
export const DEFAULT_CHUNK_SIZE = 8192;
/** Largest whole message (header + body), as in the SDK's default `max_message_size`. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Session id used by AUTH before the platform assigns one. */
export const NO_SESSION = 0xffffffff;

/** Message codes (header byte 1). Requests are < 0x40, responses >= 0x40. */
export const MessageCode = {
  GET: 0x01,
  PUT: 0x02,
  POST: 0x03,
  DEL: 0x04,
  BIND: 0x0a,
  UNBIND: 0x0b,
  AUTH: 0x14,
  KEEP_ALIVE: 0x1f,
  SUCCESS: 0x40,
  BAD_REQUEST: 0x80,
  UNAUTHORIZED: 0x81,
  BAD_OPTION: 0x82,
  FORBIDDEN: 0x83,
  NOT_FOUND: 0x84,
  METHOD_NOT_ALLOWED: 0x85,
  NOT_ACCEPTABLE: 0x86,
  PRECONDITION_FAILED: 0x8c,
  ENTITY_TOO_LARGE: 0x8d,
  UNSUPPORTED_CONTENT_FORMAT: 0x8f,
  INTERNAL_SERVER_ERROR: 0xa0,
  NOT_IMPLEMENTED: 0xa1,
  BAD_GATEWAY: 0xa2,
  SERVICE_UNAVAILABLE: 0xa3,
  GATEWAY_TIMEOUT: 0xa4,
} as const;
export type MessageCode = (typeof MessageCode)[keyof typeof MessageCode];

export type RequestCode =
  typeof MessageCode.GET | typeof MessageCode.PUT | typeof MessageCode.POST | typeof MessageCode.DEL;

export function isRequestCode(code: number): code is RequestCode {
  return code >= MessageCode.GET && code <= MessageCode.DEL;
}

/** Any code >= 0x40 is a response (the SDK treats it so); 0x40 is success. */
export function isResponseCode(code: number): boolean {
  return Number.isInteger(code) && code >= MessageCode.SUCCESS && code <= 0xff;
}

/** Base types (1 byte on the wire). NOTHING is 0xFF (-1 as a signed byte). */
export const BaseType = {
  NOTHING: 0xff,
  STRING: 0,
  NUMBER: 1,
  BOOLEAN: 2,
  DATETIME: 3,
  INFOTABLE: 5,
  LOCATION: 6,
  XML: 7,
  JSON: 8,
  QUERY: 9,
  IMAGE: 10,
  HYPERLINK: 11,
  IMAGELINK: 12,
  PASSWORD: 13,
  HTML: 14,
  TEXT: 15,
  TAGS: 16,
  SCHEDULE: 17,
  VARIANT: 18,
  GUID: 20,
  BLOB: 21,
  INTEGER: 22,
  /** 64-bit signed integer, newer than SDK 2.2.1 (ThingWorx 8.x). */
  LONG: 23,
  PROPERTYNAME: 50,
  SERVICENAME: 51,
  EVENTNAME: 52,
  /** Names newer than SDK 2.2.1 (PTC's BaseTypes): strings on the wire like every other name. */
  THINGGROUPNAME: 99,
  THINGNAME: 100,
  THINGSHAPENAME: 101,
  THINGTEMPLATENAME: 102,
  DATASHAPENAME: 104,
  MASHUPNAME: 105,
  MENUNAME: 106,
  BASETYPENAME: 107,
  USERNAME: 108,
  GROUPNAME: 109,
  CATEGORYNAME: 110,
  STATEDEFINITIONNAME: 111,
  STYLEDEFINITIONNAME: 112,
  MODELTAGVOCABULARYNAME: 113,
  DATATAGVOCABULARYNAME: 114,
  NETWORKNAME: 115,
  MEDIAENTITYNAME: 116,
  APPLICATIONKEYNAME: 117,
  LOCALIZATIONTABLENAME: 118,
  ORGANIZATIONNAME: 119,
  DASHBOARDNAME: 120,
  PERSISTENCEPROVIDERPACKAGENAME: 121,
  PERSISTENCEPROVIDERNAME: 122,
  PROJECTNAME: 123,
  NOTIFICATIONCONTENTNAME: 0x80,
  NOTIFICATIONDEFINITIONNAME: 0x81,
  STYLETHEMENAME: 0x82,
} as const;
export type BaseType = (typeof BaseType)[keyof typeof BaseType];

/** Base types whose value is a length-prefixed UTF-8 string on the wire. */
export const STRING_BASE_TYPES = [
  BaseType.STRING,
  BaseType.XML,
  BaseType.JSON,
  BaseType.QUERY,
  BaseType.HYPERLINK,
  BaseType.IMAGELINK,
  BaseType.PASSWORD,
  BaseType.HTML,
  BaseType.TEXT,
  BaseType.TAGS,
  BaseType.SCHEDULE,
  BaseType.GUID,
  BaseType.PROPERTYNAME,
  BaseType.SERVICENAME,
  BaseType.EVENTNAME,
  BaseType.THINGNAME,
  BaseType.THINGSHAPENAME,
  BaseType.THINGTEMPLATENAME,
  BaseType.DATASHAPENAME,
  BaseType.MASHUPNAME,
  BaseType.MENUNAME,
  BaseType.BASETYPENAME,
  BaseType.USERNAME,
  BaseType.GROUPNAME,
  BaseType.CATEGORYNAME,
  BaseType.STATEDEFINITIONNAME,
  BaseType.STYLEDEFINITIONNAME,
  BaseType.MODELTAGVOCABULARYNAME,
  BaseType.DATATAGVOCABULARYNAME,
  BaseType.NETWORKNAME,
  BaseType.MEDIAENTITYNAME,
  BaseType.APPLICATIONKEYNAME,
  BaseType.LOCALIZATIONTABLENAME,
  BaseType.ORGANIZATIONNAME,
  BaseType.DASHBOARDNAME,
  BaseType.THINGGROUPNAME,
  BaseType.PERSISTENCEPROVIDERPACKAGENAME,
  BaseType.PERSISTENCEPROVIDERNAME,
  BaseType.PROJECTNAME,
  BaseType.NOTIFICATIONCONTENTNAME,
  BaseType.NOTIFICATIONDEFINITIONNAME,
  BaseType.STYLETHEMENAME,
] as const;
export type StringBaseType = (typeof STRING_BASE_TYPES)[number];

const STRING_TYPE_SET: ReadonlySet<number> = new Set<number>(STRING_BASE_TYPES);
const ALL_TYPE_SET: ReadonlySet<number> = new Set<number>(Object.values(BaseType));

export function isStringBaseType(t: number): t is StringBaseType {
  return STRING_TYPE_SET.has(t);
}

/**
 * Base types PTC's platform has that this codec cannot carry: their AlwaysOn wire form is in no published source
 * (SDK 2.2.1 predates them), so a message carrying one fails alone, naming the type (its request is answered or
 * rejected with the reason), rather than being read wrong.
 */
export const UNSUPPORTED_BASE_TYPES: Readonly<Record<number, string>> = {
  4: 'TIMESPAN',
  124: 'VEC2',
  125: 'VEC3',
  126: 'VEC4',
  127: 'THINGCODE',
};

/** True for every base type this codec can carry (not those of `UNSUPPORTED_BASE_TYPES`). */
export function isKnownBaseType(t: number): t is BaseType {
  return ALL_TYPE_SET.has(t);
}

/** Entity types of a REQUEST body (byte 0). */
export const EntityType = {
  UNDEFINED: 0x00,
  THING: 0x0a,
  THINGSHAPES: 0x0b,
  THINGTEMPLATES: 0x0c,
  THINGPACKAGES: 0x0d,
  NETWORKS: 0x0e,
  DATASHAPES: 0x0f,
  MODELTAGS: 0x14,
  DATATAGS: 0x15,
  MASHUPS: 0x1e,
  WIDGETS: 0x1f,
  STYLEDEFINITIONS: 0x20,
  STATEDEFINITIONS: 0x21,
  MENUS: 0x22,
  MEDIAENTITIES: 0x23,
  LOCALIZATIONTABLES: 0x24,
  DASHBOARDS: 0x27,
  LOGS: 0x28,
  USERS: 0x32,
  GROUPS: 0x33,
  ORGANIZATIONS: 0x34,
  APPLICATIONKEYS: 0x35,
  DIRECTORYSERVICES: 0x36,
  RESOURCE: 0x3c,
  SCRIPTFUNCTIONLIBRARIES: 0x3d,
  EXTENSIONPACKAGES: 0x46,
  SUBSYSTEM: 0x50,
} as const;
export type EntityType = (typeof EntityType)[keyof typeof EntityType];

/** Characteristic of a REQUEST body. */
export const Characteristic = {
  PROPERTIES: 1,
  SERVICES: 2,
  EVENTS: 3,
} as const;
export type Characteristic = (typeof Characteristic)[keyof typeof Characteristic];
