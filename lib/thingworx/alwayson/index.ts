/**
 * ThingWorx AlwaysOn binary protocol: header, base types, DataShape / InfoTable, AUTH / BIND / REQUEST / RESPONSE
 * bodies, multipart split and reassembly. Pure protocol code (no I/O, no timers). Decoding untrusted bytes throws
 * only `AlwaysOnDecodeError`; encoding a bad JS value throws `AlwaysOnEncodeError`.
 */
export * from './constants';
export * from './errors';
export { MAX_STRING_BYTES } from './binary';
export {
  baseTypeName,
  decodeInfoTable,
  decodeTypedValue,
  DEFAULT_MAX_DEPTH,
  encodeInfoTable,
  encodeString,
  encodeTypedValue,
  type DecodeOptions,
  type FieldDefinition,
  type InfoTable,
  type InfoTableRow,
  type Location,
  type TypedValue,
} from './values';
export {
  decodeAuthBody,
  decodeBindBody,
  decodeHeader,
  decodeMessage,
  decodeRequestBody,
  decodeResponseBody,
  encodeAuthBody,
  encodeBindBody,
  encodeHeader,
  encodeMessage,
  encodeRequestBody,
  encodeResponseBody,
  kindOfCode,
  type AlwaysOnMessage,
  type AuthBody,
  type AuthClaim,
  type AuthMessage,
  type BindBody,
  type BindGateway,
  type BindMessage,
  type KeepAliveMessage,
  type MessageDecodeOptions,
  type MessageHeader,
  type MessageIds,
  type RequestBody,
  type RequestHeaderEntry,
  type RequestMessage,
  type ResponseBody,
  type ResponseMessage,
} from './messages';
export * from './multipart';
export * from './helpers';
export * from './hash';
