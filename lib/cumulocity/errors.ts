/**
 * Errors thrown on purpose by the Cumulocity protocol code. Nothing in lib/cumulocity throws anything
 * else for bad input: callers can `instanceof CumulocityError` and count / report the rest as bugs.
 */
export class CumulocityError extends Error {}

export type SmartRestErrorReason =
  | 'line-too-long'
  | 'invalid-value'
  | 'invalid-template'
  | 'invalid-topic'
  | 'unterminated-quote'
  | 'unexpected-character'
  | 'not-one-record';

/** SmartREST encoding, packing or parsing failed. */
export class SmartRestError extends CumulocityError {
  constructor(
    readonly reason: SmartRestErrorReason,
    detail: string,
  ) {
    super(`SmartREST ${reason}: ${detail}`);
    this.name = 'SmartRestError';
  }
}

export type MappingErrorReason = 'not-a-document' | 'missing-field' | 'invalid-field' | 'too-large';

/** A ThingPark document could not be turned into Cumulocity publishes. */
export class MappingError extends CumulocityError {
  constructor(
    readonly reason: MappingErrorReason,
    detail: string,
    readonly documentType?: string,
  ) {
    super(`Cumulocity mapping ${reason}${documentType ? ` (${documentType})` : ''}: ${detail}`);
    this.name = 'MappingError';
  }
}

export type RegistrationErrorReason = 'invalid-id' | 'invalid-option' | 'invalid-state';

/** Bad gateway / child identity, option or persisted allocation state. */
export class RegistrationError extends CumulocityError {
  constructor(
    readonly reason: RegistrationErrorReason,
    detail: string,
  ) {
    super(`Cumulocity registration ${reason}: ${detail}`);
    this.name = 'RegistrationError';
  }
}

export type OperationErrorReason =
  | 'invalid-json'
  | 'not-an-operation'
  | 'missing-id'
  | 'missing-device'
  | 'bad-line'
  | 'unsupported-template'
  | 'unsupported-operation'
  | 'already-final'
  | 'empty-command'
  | 'bad-command'
  | 'bad-hex'
  | 'odd-length'
  | 'empty-payload'
  | 'bad-port'
  | 'port-out-of-range'
  | 'bad-confirmed'
  | 'unknown-device';

/**
 * An incoming operation could not be parsed or turned into a downlink. `operationId` / `externalId` are
 * set whenever they were readable, so the caller can still answer `505,<opId>,<message>`.
 */
export class OperationError extends CumulocityError {
  constructor(
    readonly reason: OperationErrorReason,
    detail: string,
    readonly operationId?: string,
    readonly externalId?: string,
  ) {
    super(`Cumulocity operation ${reason}${operationId ? ` (operation ${operationId})` : ''}: ${detail}`);
    this.name = 'OperationError';
  }
}
