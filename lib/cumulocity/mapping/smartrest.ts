/**
 * SmartREST over MQTT: field quoting, line building, packing lines into publishes, and parsing what the
 * platform sends on `s/ds`.
 *
 * Sources:
 * - c8y-docs `content/device-integration/mqtt-bundle/implementation.md` ("SmartREST payload",
 *   "SmartREST escaping"): max 16184 bytes per MQTT packet *including* the header; several messages per
 *   publish separated by line breaks; quote a value holding `"`, `,`, leading/trailing whitespace,
 *   `\n`, `\r` or tab. That page says embedded quotes are escaped with a backslash (`\"`) and shows
 *   `511,myDeviceSerial,"execute this\nand this\nand \"this\""` as what the platform sends.
 * - c8y-docs `content/smartrest/smartrest-one-bundle/the-protocol.md` ("Data format"): same quoting
 *   rules, but embedded quotes are escaped by doubling them (`""`, the RFC 4180 CSV rule), example
 *   `104,"I have ""quotes""!"`.
 * - thin-edge.io `crates/core/c8y_api/src/smartrest/csv.rs` writes fields with the `csv` crate (doubling
 *   `""`), and issue thin-edge/thin-edge.io#2487 confirmed against the platform over MQTT that
 *   `502,c8y_UploadConfigFile,"contains""double""quote"` keeps the quotes. Its reader
 *   (`message.rs`, `collect_smartrest_messages`) turns the platform's `\"` back into `"`.
 *
 * Choice: we WRITE quotes doubled (`""`): it is the CSV rule, documented for SmartREST, and proven over
 * MQTT by thin-edge. We READ both forms (`""` and `\"` inside a quoted field), because the platform
 * documents `\"` for what it sends. The two readings disagree only for a quoted value holding a backslash
 * right before a quote or at its very end; `backslashEscapes: false` reads strict CSV (our own output).
 * We quote any field holding whitespace anywhere (not only leading/trailing), a comma, a quote or a
 * control character: quoting more than needed is always accepted (`400,c8y_MyEvent,"Something was
 * triggered"` in mqtt-static-templates.md).
 */
import { SmartRestError } from '../errors';

/** Cumulocity's limit for one MQTT packet, header included (implementation.md, "SmartREST payload"). */
export const MAX_PACKET_BYTES = 16184;

export type SmartRestValue = string | number | boolean | null | undefined;

/** One MQTT publish to make, in order. */
export interface Publish {
  topic: string;
  payload: string;
}

export interface PackOptions {
  /** Whole MQTT packet limit in bytes (default 16184). */
  maxPacketBytes?: number;
  /** QoS the publisher will use; QoS 1 and 2 add a 2-byte packet id to the header (default 1). */
  qos?: 0 | 1 | 2;
}

export interface ParseOptions {
  /** Read `\"` inside a quoted field as a quote, as the MQTT docs describe the platform (default true). */
  backslashEscapes?: boolean;
}

const NEEDS_QUOTES = /[",\s\p{Cc}]/u;

/** Formats a number the way SmartREST expects it: plain decimal JS notation, never NaN/Infinity. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) throw new SmartRestError('invalid-value', `not a finite number: ${value}`);
  return Object.is(value, -0) ? '0' : String(value);
}

/** Encodes one field: empty for null/undefined, quoted (with `""` for embedded quotes) when needed. */
export function formatField(value: SmartRestValue): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number') text = formatNumber(value);
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else throw new SmartRestError('invalid-value', `cannot encode a ${typeof value}`);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface BuildLineOptions {
  /**
   * Drop empty fields at the end of the line: "Tailing commas is not required" (mqtt-static-templates.md,
   * "Handling non-mandatory parameters"). Off by default: 201 groups keep their empty unit.
   */
  trimTrailingEmpty?: boolean;
}

/** Builds one SmartREST record (without line break): `<templateId>,<field>,<field>…`. */
export function buildLine(
  templateId: number | string,
  fields: readonly SmartRestValue[] = [],
  options: BuildLineOptions = {},
): string {
  const id = String(templateId);
  if (id === '' || NEEDS_QUOTES.test(id)) {
    throw new SmartRestError('invalid-template', `template id ${JSON.stringify(id)}`);
  }
  const encoded = fields.map(formatField);
  if (options.trimTrailingEmpty) {
    while (encoded.length > 0 && encoded[encoded.length - 1] === '') encoded.pop();
  }
  return [id, ...encoded].join(',');
}

/** `s/us` for the connected device (gateway), `s/us/<childId>` for one of its children. */
export function smartRestTopic(childId?: string): string {
  if (childId === undefined) return 's/us';
  assertTopicLevel(childId);
  return `s/us/${childId}`;
}

export function assertTopicLevel(level: string): void {
  if (level === '' || /[/+#]/.test(level) || level.includes('\0')) {
    throw new SmartRestError('invalid-topic', `not a usable topic level: ${JSON.stringify(level)}`);
  }
}

function varIntLength(n: number): number {
  if (n < 128) return 1;
  if (n < 16384) return 2;
  if (n < 2097152) return 3;
  return 4;
}

/**
 * Size of a whole MQTT 3.1.1 PUBLISH packet: fixed header (1 byte + remaining length varint), topic
 * (2-byte length + UTF-8), packet id for QoS > 0, payload. This is what the 16184-byte limit counts.
 */
export function publishPacketSize(topic: string, payloadBytes: number, qos: 0 | 1 | 2 = 1): number {
  const remaining = 2 + Buffer.byteLength(topic, 'utf8') + (qos > 0 ? 2 : 0) + payloadBytes;
  return 1 + varIntLength(remaining) + remaining;
}

/** Whether `payload` published on `topic` stays within the packet limit. */
export function fitsInPacket(topic: string, payload: string, options: PackOptions = {}): boolean {
  const max = options.maxPacketBytes ?? MAX_PACKET_BYTES;
  return publishPacketSize(topic, Buffer.byteLength(payload, 'utf8'), options.qos ?? 1) <= max;
}

/**
 * Packs lines (records) into as few publishes as possible on one topic, `\n`-separated, each publish's
 * packet within the limit, order kept, a line never split. A line too long on its own throws
 * SmartRestError('line-too-long').
 */
export function packLines(topic: string, lines: readonly string[], options: PackOptions = {}): Publish[] {
  if (topic === '') throw new SmartRestError('invalid-topic', 'empty topic');
  const max = options.maxPacketBytes ?? MAX_PACKET_BYTES;
  const qos = options.qos ?? 1;
  const publishes: Publish[] = [];
  let current: string[] = [];
  let currentBytes = 0;
  for (const line of lines) {
    const bytes = Buffer.byteLength(line, 'utf8');
    const alone = publishPacketSize(topic, bytes, qos);
    if (alone > max) {
      throw new SmartRestError(
        'line-too-long',
        `a ${bytes}-byte line makes a ${alone}-byte packet on ${topic}, over the ${max}-byte limit`,
      );
    }
    if (current.length > 0 && publishPacketSize(topic, currentBytes + 1 + bytes, qos) > max) {
      publishes.push({ topic, payload: current.join('\n') });
      current = [];
      currentBytes = 0;
    }
    currentBytes += (current.length > 0 ? 1 : 0) + bytes;
    current.push(line);
  }
  if (current.length > 0) publishes.push({ topic, payload: current.join('\n') });
  return publishes;
}

/**
 * Parses a SmartREST payload into records (arrays of fields). Records are separated by `\n` or `\r\n`
 * outside quotes; blank lines are skipped; a quoted field may hold commas and line breaks. Inside a
 * quoted field `""` is a quote, and so is `\"` unless `backslashEscapes` is false. Any other backslash
 * stays as it is (the docs: "`\n` does not create a new line"). A quote inside an unquoted field is kept
 * literally. Throws SmartRestError for an unterminated quote or text after a closing quote.
 */
export function parseSmartRest(payload: string, options: ParseOptions = {}): string[][] {
  const backslash = options.backslashEscapes ?? true;
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let inQuotes = false;
  let closedQuote = false;
  let hasContent = false;
  const endRecord = (): void => {
    if (hasContent) {
      record.push(field);
      records.push(record);
    }
    record = [];
    field = '';
    closedQuote = false;
    hasContent = false;
  };
  for (let i = 0; i < payload.length; i++) {
    const c = payload[i];
    if (inQuotes) {
      if (c === '"') {
        if (payload[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
          closedQuote = true;
        }
      } else if (c === '\\' && backslash && payload[i + 1] === '"') {
        field += '"';
        i++;
      } else {
        field += c;
      }
      continue;
    }
    if (c === ',') {
      record.push(field);
      field = '';
      closedQuote = false;
      hasContent = true;
    } else if (c === '\n' || (c === '\r' && payload[i + 1] === '\n')) {
      if (c === '\r') i++;
      endRecord();
    } else if (closedQuote) {
      throw new SmartRestError(
        'unexpected-character',
        `${JSON.stringify(c)} after a closing quote at offset ${i}`,
      );
    } else if (c === '"' && field === '') {
      inQuotes = true;
      hasContent = true;
    } else {
      field += c;
      hasContent = true;
    }
  }
  if (inQuotes) throw new SmartRestError('unterminated-quote', 'a quoted field is not closed');
  endRecord();
  return records;
}

/** Parses exactly one record (e.g. one line built by buildLine). */
export function parseLine(line: string, options: ParseOptions = {}): string[] {
  const records = parseSmartRest(line, options);
  if (records.length !== 1) {
    throw new SmartRestError('not-one-record', `expected one record, found ${records.length}`);
  }
  return records[0];
}
