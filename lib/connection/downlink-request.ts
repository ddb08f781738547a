/**
 * The types a downlink carries through every layer: a platform turns its command into a
 * DownlinkRequest (lib/<platform>/mapping), `downlink in` emits it, ThingPark sends it
 * (lib/thingpark), and the outcome goes back to the platform it came from. They live here, at the
 * bottom, so that no layer imports a type from a layer above it.
 */

export type DownlinkConnectivity = 'LORAWAN' | 'CELLULAR';

/** A validated `DevEUI_downlink` request. */
export interface DownlinkRequest {
  devEUI: string;
  connectivity: DownlinkConnectivity;
  fPort?: number;
  payloadHex?: string;
  /** An IoT Flow driver encodes this object itself (MQTT connection only). */
  payload?: unknown;
  confirmed?: boolean;
  flushDownlinkQueue?: boolean;
  /** An ISO 8601 date, or a duration in seconds (actility/tpx-iot-flow-doc, Downlink Message). */
  validityTime?: string | number;
  fCntDn?: number;
  /** LoRaWAN 1.1 applicative downlink counter, for a payload the application server encrypted. */
  aFCntDn?: number;
  /** Multicast only: whether ineligible gateways are retried (ThingPark's default: yes). */
  retryIneligibleGateways?: boolean;
  /** The driver configuration IoT Flow uses to encode `payload` (MQTT connection only). */
  driverCfg?: Record<string, unknown>;
  /** IoT Flow MQTT: the AS ID IoT Flow signs with, when its connection names none. */
  asId?: string;
  /** The request's Time when the flow set one; otherwise the time it is sent. */
  time?: string;
  correlationId: string;
}

/**
 * What became of a downlink a platform originated, as `downlink out` reports it (`msg.payload`):
 * `queued` by ThingPark, `rejected` by ThingPark, or an `error` before it got there.
 */
export interface DownlinkOutcome {
  status: 'queued' | 'rejected' | 'error';
  DevEUI?: string;
  CorrelationID?: string;
  httpStatus?: number;
  reason?: string;
  attempts?: number;
}

/** Where a downlink came from (`msg.thingpark.origin`): the platform, its config node, its command id. */
export interface DownlinkOrigin {
  platform?: string;
  config?: string;
  ref?: unknown;
}
