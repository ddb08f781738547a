/** The ThingPark document types this package recognises, keyed by their JSON root key. */
export const DOCUMENT_TYPES = [
  'DevEUI_uplink',
  'DevEUI_location',
  'DevEUI_notification',
  'DevEUI_downlink_Sent',
  'DevEUI_downlink_Rejected',
  'DevEUI_multicast_summary',
  'DevEUI_alarm',
  'BS_alarm',
  'DevEUI_downlink',
] as const;

export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export type Connectivity = 'LORAWAN' | 'CELLULAR';

const DEVEUI_RE = /^[0-9a-fA-F]{16}$/;

/** A DevEUI as ThingPark writes it: 16 hexadecimal digits, either case. */
export function isDevEUI(value: unknown): value is string {
  return typeof value === 'string' && DEVEUI_RE.test(value);
}

/** The content of a document under its root key. */
export type DocumentBody = Record<string, unknown>;

/** A typed ThingPark document with its root key, e.g. `{"DevEUI_uplink": {...}}`. */
export type ThingParkDocument = { [K in DocumentType]?: DocumentBody };

/** What `uplink in` puts in `msg.thingpark` (DESIGN.md "Messages"). */
export interface DocumentInfo {
  type: DocumentType;
  devEUI?: string;
  connectivity: Connectivity;
  fPort?: number;
  time: string;
  correlationId?: string;
}

/** Types whose document carries no DevEUI (base-station alarms, multicast reports). */
export const TYPES_WITHOUT_DEVEUI: ReadonlySet<DocumentType> = new Set([
  'BS_alarm',
  'DevEUI_multicast_summary',
]);

export function isDocumentType(value: unknown): value is DocumentType {
  return typeof value === 'string' && (DOCUMENT_TYPES as readonly string[]).includes(value);
}

export class DocumentError extends Error {
  constructor(
    message: string,
    readonly code: 'syntax' | 'unknown-type' | 'invalid-field' | 'missing-field' | 'too-large',
  ) {
    super(message);
    this.name = 'DocumentError';
  }
}

/** A short printable form of a value for an error message; never throws, even on hostile input. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? `"${value}"` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = typeof value; // too deep to print
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
