/**
 * ThingPark API (issue 18): what a ThingPark user does around a connector, from Node-RED. Owns the
 * operations (device management, alarms, Basic HTTPS and IoT Flow connections, traffic) as pure
 * request building and cursor paging (mapping/), the HTTP and OAuth2 client-credentials transport
 * (transport/), and the account client that joins them. Knows nothing of Node-RED.
 */
export {
  DEFAULT_MAX_ITEMS,
  DEFAULT_TOKEN_PATH,
  OUTPUT_MODES,
  ThingParkApiClient,
  defaultTokenUrl,
  type ApiResult,
  type OutputMode,
  type ResultInfo,
  type ThingParkApiOptions,
} from './thingpark-api-client';
export {
  DX_CONNECTIONS_PATH,
  OPERATIONS,
  OSS_PATH,
  buildRequest,
  deviceEui,
  encodeQuery,
  isOperation,
  type ApiRequest,
  type Operation,
  type OperationInput,
} from './mapping/operations';
export { isList, readPage, nextPageRequest, type Page } from './mapping/paging';
export { ApiInputError, ThingParkApiError, errorMessageOf } from './mapping/errors';
export { TransportError } from './transport/http';
export { TokenSource } from './transport/token-source';
export { retryAfterMs, type ApiAnswer } from './transport/api-transport';
