/** Base class of every error the AlwaysOn codec throws on purpose. */
export class AlwaysOnError extends Error {}

/** Why a byte sequence could not be decoded. */
export type DecodeErrorReason =
  | 'truncated'
  | 'too-large'
  | 'too-deep'
  | 'bad-version'
  | 'unknown-code'
  | 'unknown-base-type'
  | 'bad-marker'
  | 'bad-count'
  | 'out-of-range'
  | 'duplicate-field'
  | 'unknown-field'
  | 'trailing-bytes'
  | 'unexpected-multipart'
  | 'not-multipart'
  | 'bad-chunk'
  | 'inconsistent-chunk'
  | 'duplicate-chunk'
  | 'too-many-pending';

/**
 * Thrown when untrusted bytes are malformed, inconsistent or over a limit. Decoding never throws anything else.
 * `offset` is the byte position in the buffer being decoded (frame or body) where the problem was found.
 */
export class AlwaysOnDecodeError extends AlwaysOnError {
  constructor(
    readonly reason: DecodeErrorReason,
    readonly offset: number,
    detail?: string,
  ) {
    super(`AlwaysOn decode error (${reason}) at offset ${offset}${detail ? `: ${detail}` : ''}`);
    this.name = 'AlwaysOnDecodeError';
  }
}

/** Thrown when a JS value cannot be encoded (wrong type, out of range, over a wire limit). */
export class AlwaysOnEncodeError extends AlwaysOnError {
  constructor(message: string) {
    super(`AlwaysOn encode error: ${message}`);
    this.name = 'AlwaysOnEncodeError';
  }
}
