/**
 * Incoming Cumulocity operations → downlink requests, and the operation status lines.
 *
 * Sources:
 * - c8y-docs `content/smartrest/json-via-mqtt.md` ("Receiving operations"): topic
 *   `devicecontrol/notifications`, every not-yet-forwarded operation is published on subscribe, each
 *   carries `externalSource {externalId, type}` naming the child. thin-edge.io PR #3302 splits such a
 *   payload on line breaks (several operations, one JSON object per line).
 * - c8y-docs `content/smartrest/mqtt-static-templates.md`: `511,serial,commandToExecute` on `s/ds`;
 *   `504,operationId` EXECUTING, `505,operationId,failureReason` FAILED, `506,operationId,parameters`
 *   SUCCESSFUL (and `501/502/503,fragment…` for the oldest operation of a type, which is what an `s/ds`
 *   operation without id can use).
 * - Command texts for LoRa (reference/cumulocity.md): `raw <fport> <hex>` (Cumulocity-IoT/cumulocity-lora,
 *   `DeviceCodec.encodeRaw`: split on spaces, `Integer.parseInt(tokens[1])`, hex `tokens[2]`), and
 *   `<hex>` or `<hex>:<port>` with port 1 by default (the official Actility agent's shell).
 * - FPort range 1..223: LoRaWAN 1.0.x §4.3.2 (0 is MAC commands only, 224..255 are reserved, 224 being the
 *   test port since 1.0.3), so application downlinks use 1..223.
 */
import { devEUIFromChildId } from './device-registration';
import { OperationError } from '../errors';
import { buildLine, parseSmartRest, smartRestTopic, type Publish } from './smartrest';

export const COMMAND_FRAGMENT = 'c8y_Command';
export const DOWNLINK_FRAGMENT = 'c8y_LoRaDownlink';
export const MIN_FPORT = 1;
export const MAX_FPORT = 223;

/** An operation as received, before it is turned into a downlink. */
export interface C8yOperation {
  /** Operation id (JSON notifications only; `s/ds` lines carry none). */
  id?: string;
  origin: 'devicecontrol/notifications' | 's/ds';
  /** The child's external id (`c8y_Serial`), i.e. our child id. */
  externalId: string;
  status?: string;
  /** `c8y_Command.text`. */
  commandText?: string;
  /** Our structured fragment, as received (validated by toDownlinkRequest). */
  loraDownlink?: unknown;
  description?: string;
}

export interface ParsedOperations {
  operations: C8yOperation[];
  /** One per unusable line / object; the others are still returned. */
  errors: OperationError[];
  /** `106,<child>,<child>…` answers to `105` (on `s/ds`): child external ids. */
  childLists?: string[][];
}

export interface DownlinkRequest {
  /** Upper case, as ThingPark writes it. */
  devEUI: string;
  fPort: number;
  /** Lower-case hex, even length, at least one byte. */
  payloadHex: string;
  confirmed?: boolean;
  /** The Cumulocity operation to report on, when known. */
  operationId?: string;
}

export interface DownlinkOptions {
  /** Child ids this gateway manages; an operation for any other device is `unknown-device`. */
  isKnownDevice?: (childId: string) => boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}

/** Reads one operation object from `devicecontrol/notifications`. Throws OperationError. */
export function operationFromJson(value: unknown): C8yOperation {
  if (!isRecord(value)) throw new OperationError('not-an-operation', 'expected a JSON object');
  const id = idText(value.id);
  if (id === undefined) throw new OperationError('missing-id', 'the operation has no id');
  const source = value.externalSource;
  const externalId = isRecord(source) ? idText(source.externalId) : undefined;
  if (externalId === undefined) {
    throw new OperationError('missing-device', 'the operation has no externalSource.externalId', id);
  }
  const operation: C8yOperation = { id, origin: 'devicecontrol/notifications', externalId };
  if (typeof value.status === 'string') operation.status = value.status;
  if (typeof value.description === 'string') operation.description = value.description;
  const command = value[COMMAND_FRAGMENT];
  if (isRecord(command) && typeof command.text === 'string') operation.commandText = command.text;
  if (value[DOWNLINK_FRAGMENT] !== undefined) operation.loraDownlink = value[DOWNLINK_FRAGMENT];
  return operation;
}

/**
 * Parses a `devicecontrol/notifications` payload: one JSON object, or several, one per line. Bad lines
 * become errors; good ones are still returned, in order.
 */
export function parseOperationNotifications(payload: string | Uint8Array): ParsedOperations {
  const textPayload = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  const result: ParsedOperations = { operations: [], errors: [] };
  const take = (value: unknown): void => {
    try {
      result.operations.push(operationFromJson(value));
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      result.errors.push(err);
    }
  };
  // A whole payload that is one (possibly pretty-printed) JSON object, as in the docs' example.
  const whole = tryJson(textPayload);
  if (whole.ok) {
    if (Array.isArray(whole.value)) whole.value.forEach(take);
    else take(whole.value);
    return result;
  }
  for (const line of textPayload.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const parsed = tryJson(line);
    if (parsed.ok) take(parsed.value);
    else result.errors.push(new OperationError('invalid-json', `not JSON: ${preview(line)}`));
  }
  return result;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function preview(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** Any JSON value, shortly, without calling its own `toString` (a `{"toString":1}` would throw). */
function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return preview(String(value));
}

/**
 * Parses an `s/ds` payload (SmartREST, possibly several lines). `511,<serial>,<text>` becomes an
 * operation without id; other templates are reported as `unsupported-template` errors.
 */
export function parseSmartRestOperations(payload: string | Uint8Array): ParsedOperations {
  const textPayload = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  const result: ParsedOperations = { operations: [], errors: [] };
  let records: string[][];
  try {
    records = parseSmartRest(textPayload);
  } catch (err) {
    result.errors.push(new OperationError('bad-line', err instanceof Error ? err.message : String(err)));
    return result;
  }
  for (const record of records) {
    const [template, serial, ...rest] = record;
    if (template === '106') {
      (result.childLists ??= []).push(record.slice(1).filter((id) => id !== ''));
      continue;
    }
    if (template !== '511') {
      result.errors.push(
        new OperationError(
          'unsupported-template',
          `template ${preview(template)} is not handled`,
          undefined,
          serial,
        ),
      );
      continue;
    }
    if (serial === undefined || serial === '') {
      result.errors.push(new OperationError('missing-device', '511 without a serial'));
      continue;
    }
    // "511,serial,commandToExecute": a command holding an unquoted comma arrives as several fields.
    result.operations.push({ origin: 's/ds', externalId: serial, commandText: rest.join(',') });
  }
  return result;
}

/** A parsed command text: the payload and port, before the device is known. */
export interface CommandDownlink {
  fPort: number;
  payloadHex: string;
}

function checkHex(hex: string, operationId?: string, externalId?: string): string {
  if (hex === '') throw new OperationError('empty-payload', 'no payload bytes', operationId, externalId);
  if (!/^[0-9a-fA-F]+$/.test(hex)) {
    throw new OperationError(
      'bad-hex',
      `payload is not hexadecimal: ${preview(hex)}`,
      operationId,
      externalId,
    );
  }
  if (hex.length % 2 !== 0) {
    throw new OperationError(
      'odd-length',
      `payload has an odd number of hex digits (${hex.length})`,
      operationId,
      externalId,
    );
  }
  return hex.toLowerCase();
}

function checkPort(port: unknown, operationId?: string, externalId?: string): number {
  let value: number | undefined;
  if (typeof port === 'number') value = port;
  else if (typeof port === 'string' && /^\s*[+-]?\d+\s*$/.test(port)) value = Number(port);
  if (value === undefined || !Number.isInteger(value)) {
    throw new OperationError(
      'bad-port',
      `FPort is not an integer: ${describeValue(port)}`,
      operationId,
      externalId,
    );
  }
  if (value < MIN_FPORT || value > MAX_FPORT) {
    throw new OperationError(
      'port-out-of-range',
      `FPort ${value} is outside ${MIN_FPORT}..${MAX_FPORT}`,
      operationId,
      externalId,
    );
  }
  return value;
}

/**
 * Reads a `c8y_Command` text: `raw <fport> <hex>`, `<hex>:<port>` or `<hex>` (port 1). Surrounding
 * whitespace is ignored; `raw` is case-insensitive. Throws OperationError.
 */
export function parseCommandText(
  textValue: string,
  operationId?: string,
  externalId?: string,
): CommandDownlink {
  const command = typeof textValue === 'string' ? textValue.trim() : '';
  if (command === '')
    throw new OperationError('empty-command', 'the command text is empty', operationId, externalId);
  const words = command.split(/\s+/);
  if (words[0].toLowerCase() === 'raw') {
    if (words.length !== 3) {
      throw new OperationError(
        'bad-command',
        `expected "raw <fport> <hex>", got ${preview(command)}`,
        operationId,
        externalId,
      );
    }
    const fPort = checkPort(words[1], operationId, externalId);
    return { fPort, payloadHex: checkHex(words[2], operationId, externalId) };
  }
  if (words.length !== 1) {
    throw new OperationError(
      'bad-command',
      `expected "<hex>", "<hex>:<port>" or "raw <fport> <hex>", got ${preview(command)}`,
      operationId,
      externalId,
    );
  }
  const colon = command.indexOf(':');
  if (colon >= 0) {
    const fPort = checkPort(command.slice(colon + 1), operationId, externalId);
    return { fPort, payloadHex: checkHex(command.slice(0, colon), operationId, externalId) };
  }
  return { fPort: 1, payloadHex: checkHex(command, operationId, externalId) };
}

/** Reads our structured fragment `c8y_LoRaDownlink {fPort, payloadHex, confirmed?}`. Throws OperationError. */
export function parseLoRaDownlinkFragment(
  fragment: unknown,
  operationId?: string,
  externalId?: string,
): CommandDownlink & { confirmed?: boolean } {
  if (!isRecord(fragment)) {
    throw new OperationError(
      'bad-command',
      `${DOWNLINK_FRAGMENT} must be an object`,
      operationId,
      externalId,
    );
  }
  const fPort = checkPort(fragment.fPort, operationId, externalId);
  if (typeof fragment.payloadHex !== 'string') {
    throw new OperationError(
      'bad-hex',
      `${DOWNLINK_FRAGMENT}.payloadHex must be a string`,
      operationId,
      externalId,
    );
  }
  const payloadHex = checkHex(fragment.payloadHex.trim(), operationId, externalId);
  const confirmed = fragment.confirmed;
  if (confirmed === undefined || confirmed === null) return { fPort, payloadHex };
  if (typeof confirmed === 'boolean') return { fPort, payloadHex, confirmed };
  if (confirmed === 'true' || confirmed === 'false')
    return { fPort, payloadHex, confirmed: confirmed === 'true' };
  throw new OperationError(
    'bad-confirmed',
    `${DOWNLINK_FRAGMENT}.confirmed must be a boolean`,
    operationId,
    externalId,
  );
}

/**
 * Turns an operation into a downlink request. `c8y_LoRaDownlink` wins over `c8y_Command` when both are
 * present. Throws OperationError (with the operation id and device when known) for: an operation
 * already SUCCESSFUL/FAILED, a device that is not one of ours, no downlink fragment, and every bad
 * command (see parseCommandText).
 */
export function toDownlinkRequest(operation: C8yOperation, options: DownlinkOptions = {}): DownlinkRequest {
  const { id, externalId } = operation;
  if (operation.status === 'SUCCESSFUL' || operation.status === 'FAILED') {
    throw new OperationError('already-final', `the operation is already ${operation.status}`, id, externalId);
  }
  const devEUI = devEUIFromChildId(externalId);
  if (devEUI === undefined || (options.isKnownDevice && !options.isKnownDevice(externalId))) {
    throw new OperationError(
      'unknown-device',
      `no ThingPark device with child id ${preview(externalId)}`,
      id,
      externalId,
    );
  }
  let request: DownlinkRequest;
  if (operation.loraDownlink !== undefined) {
    request = { devEUI, ...parseLoRaDownlinkFragment(operation.loraDownlink, id, externalId) };
  } else if (operation.commandText !== undefined) {
    request = { devEUI, ...parseCommandText(operation.commandText, id, externalId) };
  } else {
    throw new OperationError(
      'unsupported-operation',
      `neither ${COMMAND_FRAGMENT} nor ${DOWNLINK_FRAGMENT} in the operation`,
      id,
      externalId,
    );
  }
  if (id !== undefined) request.operationId = id;
  return request;
}

/**
 * Remembers the last `capacity` operation ids (LRU) so an operation replayed on re-subscribe is handed
 * over once. Memory is bounded by `capacity`.
 */
export class OperationDedupe {
  private readonly ids = new Map<string, true>();

  constructor(readonly capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity}`);
  }

  /** True if `id` was seen already (and refreshes it); otherwise records it and returns false. */
  seen(id: string): boolean {
    if (this.ids.has(id)) {
      this.ids.delete(id);
      this.ids.set(id, true);
      return true;
    }
    this.ids.set(id, true);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.keys().next().value as string);
    return false;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  forget(id: string): void {
    this.ids.delete(id);
  }

  get size(): number {
    return this.ids.size;
  }
}

/** `504,<opId>`: EXECUTING (handed to ThingPark). */
export function operationExecuting(operationId: string): string {
  return buildLine(504, [operationId]);
}

/** Longest failure reason sent, in UTF-8 bytes: a whole error text makes an unreadable operation list. */
export const MAX_REASON_BYTES = 500;

/** `text` cut to at most `max` UTF-8 bytes, never inside a character. */
export function cutToBytes(text: string, max = MAX_REASON_BYTES): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > max) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** `505,<opId>,<reason>`: FAILED (reason cut to 500 bytes). */
export function operationFailed(operationId: string, reason: string): string {
  return buildLine(505, [operationId, cutToBytes(reason)]);
}

/** `506,<opId>[,<result>…]`: SUCCESSFUL. */
export function operationSuccessful(operationId: string, ...results: string[]): string {
  return buildLine(506, [operationId, ...results]);
}

/** `501,<fragment>`: the oldest PENDING operation of that type to EXECUTING (for `s/ds` operations). */
export function oldestOperationExecuting(fragment: string = COMMAND_FRAGMENT): string {
  return buildLine(501, [fragment]);
}

/** `502,<fragment>,<reason>`: the oldest EXECUTING operation of that type to FAILED. */
export function oldestOperationFailed(reason: string, fragment: string = COMMAND_FRAGMENT): string {
  return buildLine(502, [fragment, cutToBytes(reason)]);
}

/** `503,<fragment>[,<result>…]`: the oldest EXECUTING operation of that type to SUCCESSFUL. */
export function oldestOperationSuccessful(fragment: string = COMMAND_FRAGMENT, ...results: string[]): string {
  return buildLine(503, [fragment, ...results]);
}

/** A status line as a publish on the child's topic `s/us/<childId>` (reference/cumulocity.md, "Operations"). */
export function operationStatusPublish(childId: string, line: string): Publish {
  return { topic: smartRestTopic(childId), payload: line };
}
