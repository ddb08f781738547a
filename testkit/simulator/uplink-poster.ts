import type { DocumentBody, DocumentType } from '../../lib/thingpark/mapping/document-types';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';

export interface TunnelTarget {
  /** The `uplink in` URL, e.g. http://127.0.0.1:1880/thingpark/uplink */
  url: string;
  asId: string;
  asKey: string;
}

/** Posts a document the way ThingPark's Basic HTTPS connection does: signed query, JSON body. */
export async function postTunnelDocument(
  target: TunnelTarget,
  type: DocumentType,
  body: DocumentBody,
  now = new Date(),
): Promise<{ status: number; text: string }> {
  const query = tunnelQueryFor(type, body, {
    asId: target.asId,
    asKey: target.asKey,
    time: thingparkTime(now),
  });
  const res = await fetch(`${target.url}?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'ACTILITY-LRCLRN-DEVICE-AGENT/1.0' },
    body: JSON.stringify({ [type]: body }),
    signal: AbortSignal.timeout(10000),
  });
  return { status: res.status, text: await res.text() };
}
