import * as http from 'http';
import * as https from 'https';
import { lrcDownlinkQuery, type DownlinkRequest } from './downlink';

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
  /** Extra attempts after a network error or a 5xx answer. */
  retries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  /** TLS options (CA, client certificate, verification) for an https LRC URL. */
  tls?: https.RequestOptions;
}

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

/** Sends downlinks to the ThingPark LRC over the Basic HTTPS connection. */
export class LrcClient {
  constructor(private readonly options: LrcClientOptions) {}

  async send(request: DownlinkRequest): Promise<LrcResult> {
    const retries = this.options.retries ?? 2;
    let attempts = 0;
    let last: LrcResult = { status: 'error', correlationId: request.correlationId, attempts };
    while (attempts <= retries) {
      if (attempts > 0) await delay((this.options.retryDelayMs ?? 500) * 2 ** (attempts - 1));
      attempts++;
      last = await this.attempt(request, attempts);
      const transient = last.status === 'error' && (last.httpStatus === undefined || last.httpStatus >= 500);
      if (!transient) break;
    }
    return last;
  }

  private async attempt(request: DownlinkRequest, attempts: number): Promise<LrcResult> {
    const { query } = lrcDownlinkQuery(request, this.options.asId, this.options.asKey);
    const sep = this.options.url.includes('?') ? '&' : '?';
    const base = { correlationId: request.correlationId, attempts };
    try {
      const res = await this.post(`${this.options.url}${sep}${query}`);
      if (res.status === 200 && QUEUED_RE.test(res.body))
        return { ...base, status: 'queued', httpStatus: 200 };
      const reason = stripHtml(res.body) || `HTTP ${res.status}`;
      return { ...base, status: res.status >= 500 ? 'error' : 'rejected', httpStatus: res.status, reason };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { ...base, status: 'error', reason: `LRC unreachable: ${e.code ?? e.message}` };
    }
  }

  private post(url: string): Promise<{ status: number; body: string }> {
    const target = new URL(url);
    const lib = target.protocol === 'http:' ? http : https;
    const timeout = this.options.timeoutMs ?? 15000;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        target,
        {
          ...(target.protocol === 'https:' ? this.options.tls : {}),
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 0 },
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
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end();
    });
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
