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
  validityTime?: string;
  fCntDn?: number;
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
