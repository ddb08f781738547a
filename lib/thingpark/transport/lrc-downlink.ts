import * as http from 'http';
import * as https from 'https';
import { lrcDownlinkQuery, type DownlinkRequest } from '../mapping/downlink';

export const DEFAULT_LRC_URL = 'https://api.thingpark.com/thingpark/lrc/rest/downlink';

/** The known ThingPark hosts (reference/thingpark.md), offered as presets in the editor. */
export const LRC_PRESETS: Record<string, string> = {
  'api.thingpark.com': DEFAULT_LRC_URL,
  'community.thingpark.io': 'https://community.thingpark.io/thingpark/lrc/rest/downlink',
  'thingparkenterprise.eu.actility.com':
    'https://thingparkenterprise.eu.actility.com/thingpark/lrc/rest/downlink',
  'thingparkenterprise.us.actility.com':
    'https://thingparkenterprise.us.actility.com/thingpark/lrc/rest/downlink',
  'thingparkenterprise.au.actility.com':
    'https://thingparkenterprise.au.actility.com/thingpark/lrc/rest/downlink',
};

export interface LrcResult {
  status: 'queued' | 'rejected' | 'error';
  correlationId: string;
  httpStatus?: number;
  reason?: string;
  attempts: number;
}

export interface LrcClientOptions {
  url: string;
  asId: string;
  asKey: string;
  /**
   * Extra attempts when the request surely did not reach ThingPark (DNS failure, connection refused,
   * or closed before the request was written) or the answer says it was not taken (503, 429).
   */
  retries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  /** TLS options (CA, client certificate, verification) for an https LRC URL. */
  tls?: https.RequestOptions;
}

/** One attempt's outcome, and whether sending it again cannot queue the downlink twice. */
interface Attempt {
  result: LrcResult;
  resendable: boolean;
}

/** Errors that happen before a connection exists: nothing can have reached ThingPark. */
const NOT_CONNECTED = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Answers that say the request was not taken: a proxy or the LRC turning it away before processing. */
const NOT_TAKEN = new Set([429, 503]);

/** Strips the HTML the LRC answers with, keeping its text. */
export function stripHtml(body: string): string {
  return body
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

const QUEUED_RE = /Request queued by LRC/i;

/**
 * Sends downlinks to the ThingPark LRC over the Basic HTTPS connection. Never sends a downlink twice:
 * a timeout, a reset after the request was written or a 5xx other than 503 may follow a queued
 * downlink, so they end as `error` and the flow decides.
 */
export class LrcClient {
  /** The key form the LRC accepted last: ThingPark's guide hashes the lower-case text, some platforms the key as stored. */
  private keyForms: string[];

  constructor(private readonly options: LrcClientOptions) {
    const lower = options.asKey.toLowerCase();
    this.keyForms = lower === options.asKey ? [lower] : [lower, options.asKey];
  }

  async send(request: DownlinkRequest): Promise<LrcResult> {
    const retries = this.options.retries ?? 2;
    let attempts = 0;
    let resends = 0;
    let keyIndex = 0;
    for (;;) {
      attempts++;
      const key = this.keyForms[keyIndex];
      const { result, resendable } = await this.attempt(request, key, attempts);
      if (result.status === 'queued') {
        if (keyIndex > 0) this.keyForms = [key, ...this.keyForms.filter((k) => k !== key)];
        return result;
      }
      // A refused token queued nothing: one more try with the other case of the key is safe.
      if (isTokenRefusal(result) && keyIndex + 1 < this.keyForms.length) {
        keyIndex++;
        continue;
      }
      if (!resendable || resends >= retries) return result;
      await delay((this.options.retryDelayMs ?? 500) * 2 ** resends);
      resends++;
    }
  }

  private async attempt(request: DownlinkRequest, asKey: string, attempts: number): Promise<Attempt> {
    const { query } = lrcDownlinkQuery(request, this.options.asId, asKey);
    const sep = this.options.url.includes('?') ? '&' : '?';
    const base = { correlationId: request.correlationId, attempts };
    let res: { status: number; body: string };
    try {
      res = await this.post(`${this.options.url}${sep}${query}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { requestWritten?: boolean };
      const code = e.code ?? e.message;
      if (!e.requestWritten || NOT_CONNECTED.has(code)) {
        return { result: { ...base, status: 'error', reason: `LRC unreachable: ${code}` }, resendable: true };
      }
      const reason = `no answer from the LRC (${code}) after the request was sent: it may be queued, so it was not resent`;
      return { result: { ...base, status: 'error', reason }, resendable: false };
    }
    if (res.status === 200 && QUEUED_RE.test(res.body)) {
      return { result: { ...base, status: 'queued', httpStatus: 200 }, resendable: false };
    }
    const reason = stripHtml(res.body) || `HTTP ${res.status}`;
    const status = res.status >= 400 && res.status < 500 && res.status !== 429 ? 'rejected' : 'error';
    return {
      result: { ...base, status, httpStatus: res.status, reason },
      resendable: NOT_TAKEN.has(res.status),
    };
  }

  private post(url: string): Promise<{ status: number; body: string }> {
    const target = new URL(url);
    const lib = target.protocol === 'http:' ? http : https;
    const timeout = this.options.timeoutMs ?? 15000;
    return new Promise((resolve, reject) => {
      let written = false;
      const req = lib.request(
        target,
        {
          ...(target.protocol === 'https:' ? this.options.tls : {}),
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 0 },
          // A fresh connection each time: a kept-alive socket the server has closed would fail
          // after the request was written, which cannot be told apart from a lost answer.
          agent: false,
          timeout,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= 65536) chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (err) => reject(Object.assign(err, { requestWritten: true })));
        },
      );
      req.on('finish', () => (written = true));
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(Object.assign(err, { requestWritten: written })));
      req.end();
    });
  }
}

/** The LRC refusing the Token (or its signature check), as opposed to the request's content. */
function isTokenRefusal(result: LrcResult): boolean {
  const status = result.httpStatus;
  if (status === undefined || status < 400 || status >= 500) return false;
  return status === 401 || status === 403 || /token|signature|security/i.test(result.reason ?? '');
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
