import type { NormalisedDocument } from '../../thingpark';

/** A ThingPark document as WMW takes it: typed JSON with its root key. */
export type WmwBody = Record<string, unknown>;

/** WMW takes the standard ThingPark document and decodes payloads itself: the document as it is. */
export function wmwBody(doc: NormalisedDocument): WmwBody {
  return doc.document as WmwBody;
}
