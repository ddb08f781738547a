import type * as https from 'https';
import { buildRequest, type ApiRequest, type Operation, type OperationInput } from './mapping/operations';
import { isList, nextPageRequest, readPage, type Page } from './mapping/paging';
import { ApiTransport, type ApiAnswer } from './transport/api-transport';
import { TokenSource } from './transport/token-source';

export const DEFAULT_TOKEN_PATH = '/users-auth/protocol/openid-connect/token';
export const DEFAULT_MAX_ITEMS = 100000;
export const OUTPUT_MODES = ['pages', 'items', 'all'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/** The token URL ThingPark uses for an account's base URL. */
export const defaultTokenUrl = (url: string): string => `${url.replace(/\/+$/, '')}${DEFAULT_TOKEN_PATH}`;

export interface ThingParkApiOptions {
  url: string;
  /** Defaults to `<url>/users-auth/protocol/openid-connect/token`. */
  tokenUrl?: string;
  clientId: string;
  clientSecret: string;
  tls?: https.RequestOptions;
  timeoutMs?: number;
  maxRetryAfterMs?: number;
  maxThrottleRetries?: number;
}

/** What a result says besides its payload (the node puts it in `msg.thingpark`). */
export interface ResultInfo {
  status: number;
  location?: string;
  /** Lists: the cursor to resume after what was delivered (`pageAfter`); absent when nothing is left. */
  cursor?: string;
  /** Lists: ThingPark's total, from the first page. */
  count?: number;
  /** Lists: whether ThingPark has more after `cursor`. */
  more?: boolean;
  /** Lists: the page number (1, 2, …) in `pages` and `items` output. */
  page?: number;
  /** `items` output: the position of the item in the listing (0, 1, …). */
  index?: number;
  /** The listing stopped at `maxItems`. */
  truncated?: boolean;
}

export interface ApiResult {
  payload: unknown;
  thingpark: ResultInfo;
}

export interface ResultOptions {
  mode: OutputMode;
  maxItems: number;
  signal?: AbortSignal;
}

/**
 * A ThingPark API account: OAuth2 client credentials, requests, and lists read page after page by
 * their cursors. No Node-RED inside.
 */
export class ThingParkApiClient {
  readonly tokens: TokenSource;
  readonly transport: ApiTransport;
  private readonly closing = new AbortController();

  constructor(readonly options: ThingParkApiOptions) {
    const timeoutMs = options.timeoutMs ?? 30000;
    this.tokens = new TokenSource({
      tokenUrl: options.tokenUrl || defaultTokenUrl(options.url),
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      tls: options.tls,
      timeoutMs,
    });
    this.transport = new ApiTransport({
      baseUrl: options.url,
      tokens: this.tokens,
      tls: options.tls,
      timeoutMs,
      maxBytes: 32 << 20,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60000,
      maxThrottleRetries: options.maxThrottleRetries ?? 5,
    });
  }

  /** Ends every request and wait in progress (the node closing). */
  close(): void {
    this.closing.abort();
    this.tokens.forget();
  }

  /** One request, whatever its answer holds; ended by `signal` or by close(). */
  async send(request: ApiRequest, signal?: AbortSignal): Promise<ApiAnswer> {
    if (!signal) return this.transport.send(request, this.closing.signal);
    // `signal` joined to the client's own, listeners removed after (AbortSignal.any is not in Node 18).
    const joined = new AbortController();
    const abort = () => joined.abort();
    if (signal.aborted || this.closing.signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    this.closing.signal.addEventListener('abort', abort, { once: true });
    try {
      return await this.transport.send(request, joined.signal);
    } finally {
      signal.removeEventListener('abort', abort);
      this.closing.signal.removeEventListener('abort', abort);
    }
  }

  /** Runs an operation with a message's parameters: one answer (lists: the first page only). */
  call(operation: Operation, input: OperationInput, signal?: AbortSignal): Promise<ApiAnswer> {
    return this.send(buildRequest(operation, input), signal);
  }

  /**
   * The results of a request as the node outputs them: one for a single answer; for a list, one per
   * page (`pages`), per item (`items`) or one with every item (`all`), at most `maxItems` items in all.
   * Pages are read one after the other, each only once the previous results were taken.
   */
  async *results(request: ApiRequest, options: ResultOptions): AsyncGenerator<ApiResult> {
    let answer = await this.send(request, options.signal);
    // A `request` GET of one resource is paged in case it is a list; it is not.
    if (!request.paged || !isList(answer.body)) {
      yield { payload: answer.body, thingpark: info(answer) };
      return;
    }
    const all: unknown[] = [];
    let count: number | undefined;
    let current: ApiRequest | undefined = request;
    let delivered = 0;
    for (let number = 1; ; number++) {
      const page: Page = readPage(answer.body);
      count ??= page.count;
      const room = Math.max(0, options.maxItems - delivered);
      const items = page.items.slice(0, room);
      const truncated = items.length < page.items.length || (items.length === room && page.more);
      // Cut inside a page: resuming must read this page again, so the cursor is the one before it.
      const cursor = items.length < page.items.length ? current.query.pageAfter : page.cursor;
      const more = truncated || page.more;
      const base: ResultInfo = {
        ...info(answer),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(count !== undefined ? { count } : {}),
        more,
        ...(truncated ? { truncated } : {}),
      };
      if (options.mode === 'pages') yield { payload: items, thingpark: { ...base, page: number } };
      else if (options.mode === 'items') {
        for (const [i, item] of items.entries())
          yield { payload: item, thingpark: { ...base, page: number, index: delivered + i } };
      } else all.push(...items);
      delivered += items.length;
      const next: ApiRequest | undefined = truncated ? undefined : nextPageRequest(current, page);
      if (!next) {
        if (options.mode === 'all') yield { payload: all, thingpark: base };
        return;
      }
      current = next;
      answer = await this.send(next, options.signal);
    }
  }
}

function info(answer: ApiAnswer): ResultInfo {
  return { status: answer.status, ...(answer.location ? { location: answer.location } : {}) };
}
