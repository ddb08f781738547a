import { MessageCode } from '../alwayson/constants';

/**
 * Why a request (or the connection) failed:
 * - `response`: the platform answered with an error code (`code` holds it);
 * - `auth`: the platform refused the application key or the session (0x81, HTTP 401/403 on the upgrade);
 * - `timeout`: no response within the request timeout (the platform may still have acted on it);
 * - `disconnected`: the socket dropped while the request was in flight;
 * - `not-connected`: no authenticated session when the request was issued;
 * - `closed`: the client was closed;
 * - `encode`: the request could not be encoded (bad value, over the 1 MiB message limit);
 * - `protocol`: the peer broke the protocol (undecodable frame, unexpected message);
 * - `transport`: the socket could not be opened (DNS, TCP, TLS, HTTP upgrade).
 */
export type AlwaysOnErrorKind =
  | 'response'
  | 'auth'
  | 'timeout'
  | 'disconnected'
  | 'not-connected'
  | 'closed'
  | 'encode'
  | 'protocol'
  | 'transport';

const CODE_NAMES = new Map<number, string>(Object.entries(MessageCode).map(([k, v]) => [v, k]));

/** `NOT_FOUND (0x84)`, or `0x99` for a code the protocol does not name. */
export function describeCode(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0').toUpperCase()}`;
  const name = CODE_NAMES.get(code);
  return name ? `${name} (${hex})` : hex;
}

/**
 * Whether a response code is worth retrying later:
 * - 0x40 is success (never an error);
 * - 0x81 UNAUTHORIZED is connection-level (bad key or stale session): retryable, the client re-authenticates;
 * - any other 0x41–0x8F is permanent (the request itself is wrong: bad value, unknown Thing, forbidden…);
 * - 0xA0–0xFF (internal error, not implemented, bad gateway, unavailable, gateway timeout) is retryable.
 */
export function isRetryableCode(code: number): boolean {
  if (code === MessageCode.UNAUTHORIZED) return true;
  return code >= MessageCode.INTERNAL_SERVER_ERROR;
}

/** Every error the AlwaysOn client rejects with or reports. */
export class AlwaysOnClientError extends Error {
  /** Whether the same request may succeed if sent again later (store-and-forward keeps it). */
  readonly retryable: boolean;

  constructor(
    readonly kind: AlwaysOnErrorKind,
    message: string,
    options: { code?: number; reason?: string; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AlwaysOnClientError';
    this.code = options.code;
    this.reason = options.reason;
    this.retryable = options.retryable ?? defaultRetryable(kind, options.code);
  }

  /** The AlwaysOn response code (`response`, `auth`), or the HTTP status of a refused upgrade (`auth`). */
  readonly code?: number;
  /** The reason text of an error response. */
  readonly reason?: string;
}

function defaultRetryable(kind: AlwaysOnErrorKind, code: number | undefined): boolean {
  switch (kind) {
    case 'response':
      return code !== undefined && isRetryableCode(code);
    case 'encode':
    case 'protocol':
      return false;
    default:
      return true;
  }
}

/** The error for a non-success response to a request. 0x81 is reported as kind `auth`. */
export function responseError(code: number, reason: string | undefined, what: string): AlwaysOnClientError {
  const kind: AlwaysOnErrorKind = code === MessageCode.UNAUTHORIZED ? 'auth' : 'response';
  const text = `${what} failed: ${describeCode(code)}${reason ? `: ${reason}` : ''}`;
  return new AlwaysOnClientError(kind, text, { code, reason });
}

/** True for errors worth retrying (an `AlwaysOnClientError` says so itself; anything else is not). */
export function isRetryable(err: unknown): boolean {
  return err instanceof AlwaysOnClientError && err.retryable;
}

/** A provisioning step failed (`step` names it); `code` and `retryable` come from the underlying error. */
export class ProvisioningError extends AlwaysOnClientError {
  constructor(
    readonly step: string,
    message: string,
    cause?: AlwaysOnClientError,
    options: { retryable?: boolean; code?: number } = {},
  ) {
    super(cause?.kind ?? 'response', message, {
      code: options.code ?? cause?.code,
      reason: cause?.reason,
      retryable: options.retryable ?? cause?.retryable ?? false,
      cause,
    });
    this.name = 'ProvisioningError';
  }
}
