import type {
  DownlinkOrigin,
  DownlinkOutcome,
  DownlinkRequest,
  PlatformClient,
  PlatformDownlink,
} from '../../lib/connection/platform-client';
import { downlinkDocument } from '../../lib/thingpark';
import type { NodeAPI } from './red';

/**
 * The one route of a downlink through Node-RED, the same for every platform:
 *
 *   platform client `downlink` event ─▶ PlatformConnection ─▶ `downlink in` (downlinkMessage)
 *   ─▶ user's flow ─▶ `downlink out` ─▶ ThingPark ─▶ returnDownlinkOutcome ─▶ the client's
 *   PlatformClient.downlinkResult, which closes the platform's command.
 *
 * ThingPark's later DevEUI_downlink_Sent / _Rejected travel as documents: uplink in ─▶ the
 * platform's out node ─▶ its mapping (by CorrelationID).
 */

/** What `downlink in` emits for a downlink a platform sent (DESIGN.md "Messages"). */
export function downlinkMessage(platform: string, config: string, { request, ref }: PlatformDownlink) {
  return {
    payload: downlinkDocument(request),
    topic: request.devEUI,
    thingpark: {
      type: 'DevEUI_downlink',
      connectivity: request.connectivity,
      origin: { platform, config, ref } satisfies DownlinkOrigin,
    },
  };
}

/** A config node `downlink out` may report to: a platform connection. */
interface OriginNode {
  connection?: { client?: PlatformClient<unknown> };
  /** A node that still closes its platform's commands itself, instead of its client. */
  downlinkResult?(origin: DownlinkOrigin, outcome: DownlinkOutcome, request?: DownlinkRequest): void;
}

/**
 * Hands what became of a downlink (`downlink out`'s answer) to the connection it came from
 * (`msg.thingpark.origin`). Does nothing for a downlink that came from no platform, or from a
 * connection deleted since.
 */
export function returnDownlinkOutcome(
  RED: NodeAPI,
  origin: DownlinkOrigin | undefined,
  outcome: DownlinkOutcome,
  request?: DownlinkRequest,
): void {
  if (!origin?.config) return;
  const target = RED.nodes.getNode(origin.config) as OriginNode | null;
  if (!target) return;
  if (typeof target.downlinkResult === 'function') target.downlinkResult(origin, outcome, request);
  else target.connection?.client?.downlinkResult?.(origin.ref, outcome, request);
}
