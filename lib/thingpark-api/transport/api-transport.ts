import type * as https from 'https';
import { ThingParkApiError, errorMessageOf } from '../mapping/errors';
import { encodeQuery, type ApiRequest } from '../mapping/operations';
import { httpRequest, TransportError } from './http';
import type { TokenSource } from './token-source';

export interface ApiTransportOptions {
  /** The account's base URL, e.g. https://community.thingpark.io */
  baseUrl: string;
  tokens: TokenSource;
  tls?: https.RequestOptions;
  timeoutMs: number;
  maxBytes: number;
  /** The longest Retry-After a 429 may make us wait; a longer one ends the request with the 429. */
  maxRetryAfterMs: number;
  /** 429 answers waited out per request before giving up. */
  maxThrottleRetries: number;
}

/** A 2xx answer. */
export interface ApiAnswer {
  status: number;
  /** The Location header of a creation (201). */
  location?: string;
  body: unknown;
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError('aborted', 'ABORT_ERR'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new TransportError('aborted', 'ABORT_ERR'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Sends API requests with the account's Bearer token. A 401 gets one new token and one retry; a 429
 * waits out its Retry-After (bounded in length and count); any other non-2xx is a ThingParkApiError
 * with the status and ThingPark's message.
 */
export class ApiTransport {
  constructor(private readonly options: ApiTransportOptions) {}

  urlOf(request: ApiRequest): string {
    const query = encodeQuery(request.query);
    return `${this.options.baseUrl.replace(/\/+$/, '')}${encodeURI(request.path)}${query ? `?${query}` : ''}`;
  }

  async send(request: ApiRequest, signal?: AbortSignal): Promise<ApiAnswer> {
    const { tokens } = this.options;
    const url = this.urlOf(request);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    let token = await tokens.get(signal);
    let renewed = false;
    let throttled = 0;
    for (;;) {
      const answer = await httpRequest(url, {
        method: request.method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body,
        tls: this.options.tls,
        timeoutMs: this.options.timeoutMs,
        maxBytes: this.options.maxBytes,
        signal,
      });
      if (answer.status === 401 && !renewed) {
        renewed = true;
        token = await tokens.renew(token, signal);
        continue;
      }
      if (answer.status === 429 && throttled < this.options.maxThrottleRetries) {
        const wait = retryAfterMs(answer.headers['retry-after']) ?? 1000;
        if (wait <= this.options.maxRetryAfterMs) {
          throttled++;
          await sleep(wait, signal);
          continue;
        }
      }
      if (answer.status >= 200 && answer.status < 300) {
        const location = answer.headers.location;
        return {
          status: answer.status,
          ...(location ? { location } : {}),
          body: answer.json ?? (answer.text || undefined),
        };
      }
      throw new ThingParkApiError(answer.status, errorMessageOf(answer.json, answer.text), answer.json);
    }
  }
}
