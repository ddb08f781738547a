import type { ApiRequest } from './operations';

/** One page of a list answer: `{briefs, more, count?, cursors?: {last}}` (reference: cursor pagination). */
export interface Page {
  items: unknown[];
  more: boolean;
  /** The `cursors.last` of the page: give it as `pageAfter` to read the pages after it. */
  cursor?: string;
  /** The total ThingPark counts, on the first page only. */
  count?: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether an answer is a list: `{briefs: […]}` as the OSS API answers, or a plain array (DX). */
export function isList(body: unknown): boolean {
  return Array.isArray(body) || (isRecord(body) && Array.isArray(body.briefs));
}

/** Reads a list answer; a body without `briefs` (a plain array, or one object) is one page of it. */
export function readPage(body: unknown): Page {
  if (Array.isArray(body)) return { items: body, more: false };
  if (!isRecord(body) || !Array.isArray(body.briefs))
    return { items: body === undefined ? [] : [body], more: false };
  const cursors = isRecord(body.cursors) ? body.cursors : {};
  const cursor = typeof cursors.last === 'string' && cursors.last ? cursors.last : undefined;
  return {
    items: body.briefs,
    more: body.more === true,
    ...(cursor !== undefined ? { cursor } : {}),
    ...(typeof body.count === 'number' ? { count: body.count } : {}),
  };
}

/**
 * The request of the page after `page`, or undefined when there is none: only cursor-paged lists go on,
 * and only while ThingPark says `more` and gave a cursor (a `more` without a cursor cannot be followed).
 */
export function nextPageRequest(request: ApiRequest, page: Page): ApiRequest | undefined {
  if (!request.paged || !page.more || !page.cursor) return undefined;
  return { ...request, query: { ...request.query, pageAfter: page.cursor } };
}
