import { DocumentError } from './document-types';
import { normaliseDocument, type NormalisedDocument } from './normalise';
import { parseDocumentText } from './parse';
import { checkTunnelRequest } from './token';

/** ThingPark's own words: its Basic HTTPS connection carries no alarms (seen in its connection settings). */
export const NO_ALARMS_OVER_HTTP =
  'Device and base station alarms cannot be reported over this type of connection';

export interface TunnelRequestOptions {
  /** Empty: nothing is verified. */
  asKey?: string;
  maxTimeDeviation: number;
  /** The "accept documents without a token rule" box of the network config node. */
  acceptUnverified: boolean;
  now?: Date;
}

export type TunnelVerdict =
  | { ok: true; doc: NormalisedDocument; verified: boolean; token?: string }
  | { ok: false; status: 400 | 401 | 403; reason: string };

/**
 * What `uplink in` decides for one request of ThingPark's Basic HTTPS connection: the body parsed
 * and typed, the document type allowed on this connection, then the Token (key as typed, then
 * lower-cased) and Time checked against the raw query. Pure: the node only adds the replay guard.
 */
export function checkTunnelDocument(
  rawQuery: string,
  body: string | object,
  options: TunnelRequestOptions,
): TunnelVerdict {
  let doc: NormalisedDocument;
  try {
    doc = normaliseDocument(typeof body === 'string' ? parseDocumentText(body) : body);
  } catch (err) {
    return {
      ok: false,
      status: 400,
      reason: err instanceof DocumentError ? err.message : 'malformed document',
    };
  }
  const type = doc.info.type;
  if (type === 'DevEUI_alarm' || type === 'BS_alarm') {
    return { ok: false, status: 403, reason: NO_ALARMS_OVER_HTTP };
  }
  if (!options.asKey) {
    // Nothing can be verified; a rejection report still closes platform commands only when allowed.
    if (type === 'DevEUI_downlink_Rejected' && !options.acceptUnverified) {
      return { ok: false, status: 403, reason: `no token rule for ${type}` };
    }
    return { ok: true, doc, verified: false };
  }
  const check = checkTunnelRequest(rawQuery, type, doc.rawBody, {
    asKey: options.asKey,
    maxTimeDeviation: options.maxTimeDeviation,
    acceptUnverifiable: options.acceptUnverified,
    now: options.now,
  });
  if (!check.ok) return check;
  return { ok: true, doc, verified: check.verified, token: check.token };
}
