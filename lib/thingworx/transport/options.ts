import type { BackoffOptions } from '../../connection/backoff';
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_MESSAGE_SIZE } from '../alwayson/constants';
import type { BindGateway } from '../alwayson/messages';
import type { TypedValue } from '../alwayson/values';

export type ClientState = 'disconnected' | 'connecting' | 'connected';

/** TLS settings for `wss://` (verified by default, TLS 1.2 at least). */
export interface AlwaysOnTlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** Default true: the server certificate must chain to a trusted CA and match the host name. */
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Default `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** A property write (PUT) from the platform to a bound Thing, e.g. `downlink` / `downlinkData`. */
export interface PropertyWrite {
  thing: string;
  property: string;
  value: TypedValue;
}

/**
 * What a property-write handler returns: nothing / `true` accepts (0x40); `false` refuses (0x80);
 * `{ code, reason }` answers that code (0x40 accepts). A thrown error answers 0xA0 with its message.
 */
export type PropertyWriteResult = void | boolean | { code: number; reason?: string };
export type PropertyWriteHandler = (
  write: PropertyWrite,
) => PropertyWriteResult | Promise<PropertyWriteResult>;

export interface AlwaysOnClientOptions {
  /** Platform host name or address (with `port` and `path`); ignored when `url` is given. */
  host?: string;
  /** Default 443 (80 with `allowInsecure`). */
  port?: number;
  /** Default `/Thingworx/WS`. */
  path?: string;
  /** Full `wss://…` URL instead of host / port / path. `ws://` needs `allowInsecure`. */
  url?: string;
  /** Application key: sent as the `appKey` upgrade header and as the AUTH claim. */
  appKey: string;
  /** Use plain `ws://` (no TLS). Only for tests and trusted local links. */
  allowInsecure?: boolean;
  tls?: AlwaysOnTlsOptions;
  /** WebSocket ping period (default 55 000 ms; 0 disables). */
  pingIntervalMs?: number;
  /** Drop the connection when a ping is not answered within this (default 10 000 ms). */
  pongTimeoutMs?: number;
  /** WebSocket upgrade + AUTH must complete within this (default 15 000 ms). */
  connectTimeoutMs?: number;
  /** Default timeout of a request (default 30 000 ms). */
  requestTimeoutMs?: number;
  /** Most names in one BIND message (default 500); a BIND also never exceeds one frame of `chunkSize` bytes. */
  bindBatchSize?: number;
  /** BIND messages in flight at once (default 4). */
  bindWindow?: number;
  /** Reconnect delays (defaults: 1 s doubling to 60 s, half of each delay randomised). */
  backoff?: BackoffOptions;
  /** Delays before a refused BIND batch is sent again (defaults: 5 s doubling to 5 min, half randomised). */
  bindRetry?: BackoffOptions;
  /** Largest frame sent and announced as `Max-Frame-Size` (default 8192). */
  chunkSize?: number;
  /** Largest whole message either way (default 1 MiB). */
  maxMessageSize?: number;
  /** Memory for the last values pushed (answers to GET, VALUE / DEADBAND push types), default 32 MiB a socket. */
  pushedValuesMaxBytes?: number;
  /** Offer permessage-deflate on the upgrade, as the SDK does (default true; used only if the platform accepts). */
  compression?: boolean;
  /** Optional gateway named in every BIND. */
  gateway?: BindGateway;
  /** Called for every property PUT on a bound Thing. Without it, property writes are answered 0x85. */
  onPropertyWrite?: PropertyWriteHandler;
  /** The JSON answered to `GetMetadata` for a bound Thing (default: a Thing with no local definitions). */
  metadata?: (thing: string) => unknown;
}

/** The numeric options with their defaults applied. */
export type ResolvedOptions = Required<
  Pick<
    AlwaysOnClientOptions,
    | 'pingIntervalMs'
    | 'pongTimeoutMs'
    | 'connectTimeoutMs'
    | 'requestTimeoutMs'
    | 'bindBatchSize'
    | 'bindWindow'
    | 'chunkSize'
    | 'maxMessageSize'
  >
>;

export function resolveOptions(options: AlwaysOnClientOptions): ResolvedOptions {
  const positive = (v: number | undefined, d: number, what: string, min = 0): number => {
    const n = v ?? d;
    if (!Number.isFinite(n) || n < min) throw new RangeError(`${what} must be a number >= ${min}`);
    return n;
  };
  return {
    pingIntervalMs: positive(options.pingIntervalMs, 55000, 'pingIntervalMs'),
    pongTimeoutMs: positive(options.pongTimeoutMs, 10000, 'pongTimeoutMs', 1),
    connectTimeoutMs: positive(options.connectTimeoutMs, 15000, 'connectTimeoutMs', 1),
    requestTimeoutMs: positive(options.requestTimeoutMs, 30000, 'requestTimeoutMs', 1),
    bindBatchSize: Math.min(0xffff, positive(options.bindBatchSize, 500, 'bindBatchSize', 1)),
    bindWindow: positive(options.bindWindow, 4, 'bindWindow', 1),
    chunkSize: positive(options.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize', 64),
    maxMessageSize: positive(options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 'maxMessageSize', 64),
  };
}

/** `wss://host:port/Thingworx/WS` from the options; refuses `ws://` unless `allowInsecure`. */
export function buildUrl(options: AlwaysOnClientOptions): string {
  let url: URL;
  if (options.url) {
    url = new URL(options.url);
  } else {
    if (!options.host) throw new TypeError('host or url is required');
    const scheme = options.allowInsecure ? 'ws' : 'wss';
    const port = options.port ?? (options.allowInsecure ? 80 : 443);
    const host =
      options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
    url = new URL(`${scheme}://${host}:${port}${options.path ?? '/Thingworx/WS'}`);
  }
  if (url.protocol === 'ws:' && !options.allowInsecure) {
    throw new TypeError('plain ws:// is refused unless allowInsecure is set; use wss://');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new TypeError(`unsupported scheme ${url.protocol}`);
  return url.toString();
}

export interface ClientStats {
  /** Reconnect attempts scheduled after a connection was lost or could not be made. */
  reconnects: number;
  /** Requests sent (AUTH and BIND excluded). */
  sent: number;
  /** Requests answered 0x40. */
  acked: number;
  /** Requests that failed (error response, timeout, disconnect). */
  failed: number;
  timeouts: number;
  framesIn: number;
  framesOut: number;
  bindMessages: number;
  /** Requests from the platform answered (property writes, GetMetadata, …). */
  serverRequests: number;
  /** Frames that could not be decoded. */
  protocolErrors: number;
  /** Responses that matched no pending request (arrived after their timeout). */
  lateResponses: number;
}

export function newStats(): ClientStats {
  return {
    reconnects: 0,
    sent: 0,
    acked: 0,
    failed: 0,
    timeouts: 0,
    framesIn: 0,
    framesOut: 0,
    bindMessages: 0,
    serverRequests: 0,
    protocolErrors: 0,
    lateResponses: 0,
  };
}
