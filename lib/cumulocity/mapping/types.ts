/** Types shared by the mapping modules: the options, the result, the per-document context. */
import type { Publish } from './smartrest';

/** correlationId → Cumulocity operation id, as kept durably by the caller. */
export type OperationLookup =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((correlationId: string) => string | undefined);

export interface MapperOptions {
  /** Resolves the CorrelationID of DevEUI_downlink_Sent / _Rejected to the operation to close. */
  operationFor?: OperationLookup;
  /** Type of the measurement carrying decoded values (default `c8y_ThingParkMeasurement`). */
  measurementType?: string;
  /** MQTT packet limit (default 16184). */
  maxPacketBytes?: number;
  /** QoS the publisher uses (default 1); it changes the header size. */
  qos?: 0 | 1 | 2;
  /** The tenant refused `201` (older than Cumulocity 10.18): measurements as `200` lines. */
  legacyTemplates?: boolean;
  /** Clock used only when a document has no time of its own (default: the system clock). */
  now?: () => Date;
}

export interface OperationOutcome {
  operationId: string;
  correlationId: string;
  status: 'SUCCESSFUL' | 'FAILED';
  reason?: string;
  /** What the device's downlink became, for the operation's result (e.g. `sent by ThingPark, FCntDn 7`). */
  result?: string;
}

export interface MapResult {
  documentType: string;
  /** The child the publishes are about; undefined for the gateway itself (base-station alarms). */
  childId?: string;
  /** To publish in this order, on the connection of the child's gateway identity. */
  publishes: Publish[];
  /** For downlink reports: the operation this document finishes. */
  operation?: OperationOutcome;
  /** Why nothing was produced, when the document is valid but has nothing for Cumulocity. */
  skipped?: string;
  /** Parts of the document left out (bad optional fields, too many values…). */
  warnings: string[];
}

export type Body = Readonly<Record<string, unknown>>;

export interface Context {
  type: string;
  options: MapperOptions;
  warnings: string[];
}

export interface Group {
  fragment: string;
  series: string;
  value: number;
  unit?: string;
}
