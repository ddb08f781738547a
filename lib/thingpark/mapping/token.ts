import { createHash, timingSafeEqual } from 'crypto';
import type { DocumentBody, DocumentType } from './document-types';

/**
 * ThingPark tunnel tokens (reference/thingpark.md, "Basic HTTPS connection" and "Downlink"):
 * Token = hex(SHA-256(bodyElements + queryBeforeToken + asKey)); the AS key is hex text whose case
 * differs between platforms (see asKeyForms).
 */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// Only primitives are hashed: an object (hostile `toString`, deep nesting) must not throw.
const str = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';

/**
 * The body elements hashed into an uplink-direction token, or undefined for the document types whose
 * rule is not published (notifications, alarms, rejected downlinks, multicast reports).
 */
export function uplinkBodyElements(type: DocumentType, body: DocumentBody): string | undefined {
  switch (type) {
    case 'DevEUI_uplink':
      return str(body.CustomerID) + str(body.DevEUI) + (body.FPort === undefined ? '0' : str(body.FPort)) +
        str(body.FCntUp) + str(body.payload_hex); // prettier-ignore
    case 'DevEUI_location':
      return str(body.CustomerID) + str(body.DevEUI).toLowerCase();
    case 'DevEUI_downlink_Sent':
      return str(body.CustomerID) + str(body.DevEUI) + str(body.FPort) + str(body.FCntDn);
    default:
      return undefined;
  }
}

export interface SplitQuery {
  /** The query string before `&Token`, URL-decoded: what ThingPark hashed. */
  signed: string;
  /**
   * The forms ThingPark may have hashed, first the whole query before `&Token`; when the AS URL brings
   * a query of its own (`https://host/path?site=3`), also only the `Lrn*`, `AS_ID` and `Time`
   * parameters ThingPark added, in the order received.
   */
  signedForms: string[];
  token?: string;
  /** Time read from the raw query: an unencoded `+` in its offset stays a `+`. */
  time?: string;
  params: URLSearchParams;
}

const TUNNEL_PARAM = /^(?:Lrn[A-Za-z]*|AS_ID|Time)=/;

/** Splits a raw (still URL-encoded) query string at its Token, which ThingPark always puts last. */
export function splitTunnelQuery(rawQuery: string): SplitQuery {
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const params = new URLSearchParams(query);
  const at = query.search(/(^|&)Token=/);
  const before = at < 0 ? query : query.slice(0, at);
  const parts = before.split('&');
  const time = rawParam(parts, 'Time');
  const signed = safeDecode(before);
  const signedForms = [signed];
  const tunnelParts = parts.filter((part) => TUNNEL_PARAM.test(part));
  if (tunnelParts.length > 0 && tunnelParts.length < parts.length) {
    signedForms.push(tunnelParts.map(safeDecode).join('&'));
  }
  const token = at < 0 ? undefined : (params.get('Token') ?? undefined);
  return { signed, signedForms, token, time, params };
}

/** A parameter's value percent-decoded only: `+` is not read as a space (ThingPark's Time may hold one). */
function rawParam(parts: string[], name: string): string | undefined {
  const prefix = `${name}=`;
  const part = parts.find((p) => p.startsWith(prefix));
  return part === undefined ? undefined : safeDecode(part.slice(prefix.length));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function uplinkToken(bodyElements: string, signedQuery: string, asKey: string): string {
  return sha256Hex(bodyElements + signedQuery + asKey);
}

/**
 * The AS key as typed, then lower-cased: ThingPark shows and returns keys in upper case while
 * Actility's guide hashes the lower-case hex text, and older platforms hash the key as stored.
 */
export function asKeyForms(asKey: string): string[] {
  const lower = asKey.toLowerCase();
  return lower === asKey ? [asKey] : [asKey, lower];
}

export interface TunnelCheckOptions {
  asKey: string;
  /** Allowed |now − Time| in seconds; 0 or less disables the time check. */
  maxTimeDeviation: number;
  now?: Date;
  /** When false, document types without a public token rule are refused instead of passed unverified. */
  acceptUnverifiable?: boolean;
}

export type TunnelCheck =
  | { ok: true; verified: boolean; token?: string; time?: string }
  | { ok: false; status: 401 | 403; reason: string };

/** Checks an uplink-direction tunnel request: its Token (when the type has a rule) and its Time window. */
export function checkTunnelRequest(
  rawQuery: string,
  type: DocumentType,
  rawBody: DocumentBody,
  options: TunnelCheckOptions,
): TunnelCheck {
  const { signedForms, token, time } = splitTunnelQuery(rawQuery);
  if (!token) return { ok: false, status: 401, reason: 'missing Token' };
  if (!time) return { ok: false, status: 401, reason: 'missing Time' };
  const elements = uplinkBodyElements(type, rawBody);
  let verified = false;
  if (elements !== undefined) {
    const matches = (key: string) =>
      signedForms.some((signed) => hexEqual(token, uplinkToken(elements, signed, key)));
    if (!asKeyForms(options.asKey).some(matches)) {
      return { ok: false, status: 401, reason: 'invalid Token' };
    }
    verified = true;
  } else if (options.acceptUnverifiable === false) {
    return { ok: false, status: 403, reason: `no token rule for ${type}` };
  }
  if (options.maxTimeDeviation > 0) {
    const sent = Date.parse(time);
    if (Number.isNaN(sent)) return { ok: false, status: 401, reason: 'invalid Time' };
    const now = (options.now ?? new Date()).getTime();
    if (Math.abs(now - sent) > options.maxTimeDeviation * 1000) {
      return { ok: false, status: 403, reason: 'Time outside the allowed deviation' };
    }
  }
  return { ok: true, verified, token, time };
}

function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b.toLowerCase(), 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Signs an ordered parameter list the way the LRC expects: the hash covers `k=v&…` NOT URL-encoded,
 * the values are encoded only afterwards, and Token goes last.
 */
export function signQuery(params: ReadonlyArray<readonly [string, string]>, asKey: string) {
  const signed = params.map(([k, v]) => `${k}=${v}`).join('&');
  const token = sha256Hex(signed + asKey);
  const encoded = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return { signed, token, query: `${encoded}&Token=${token}` };
}

/** Builds the query string ThingPark sends with an uplink-direction document (used by the simulator). */
export function tunnelQueryFor(
  type: DocumentType,
  body: DocumentBody,
  options: { asId: string; asKey: string; time: string; lrnInfos?: string },
): string {
  const params: [string, string][] = [['LrnDevEui', str(body.DevEUI)]];
  if (body.FPort !== undefined) params.push(['LrnFPort', str(body.FPort)]);
  params.push(
    ['LrnInfos', options.lrnInfos ?? 'UPHTTP_LAB_LORA'],
    ['AS_ID', options.asId],
    ['Time', options.time],
  );
  const signed = params.map(([k, v]) => `${k}=${v}`).join('&');
  const token = uplinkToken(uplinkBodyElements(type, body) ?? '', signed, options.asKey);
  return `${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}&Token=${token}`;
}
