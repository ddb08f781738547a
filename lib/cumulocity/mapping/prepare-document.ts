/** What `cumulocity out` queues for a document (checked now, mapped again at delivery). */
import { thingparkTime } from '../../thingpark/mapping/downlink';
import type { CumulocityBody } from '../options';
import { mapDocument } from './mapper';

/**
 * What `cumulocity out` queues for a document: the document itself, checked now by mapping it (bad input
 * is refused before it is queued), with its reception time as `Time` when it has none (so a message sent
 * after an outage keeps the time it happened). Undefined for documents with nothing for Cumulocity.
 * Throws MappingError.
 */
export function prepareDocument(
  document: Record<string, unknown>,
  now = new Date(),
): CumulocityBody | undefined {
  // Any CorrelationID stands for an operation here: whether it is one is known only at delivery.
  const result = mapDocument(document, { operationFor: () => 'check', now: () => now });
  if (result.publishes.length === 0) return undefined;
  const [type, body] = Object.entries(document)[0] as [string, Record<string, unknown>];
  if (body.Time !== undefined && body.Time !== null && body.Time !== '') return document;
  return { [type]: { ...body, Time: thingparkTime(now) } };
}
