/** A message's parameters cannot make a ThingPark API request (nothing was sent). */
export class ApiInputError extends Error {
  override readonly name = 'ApiInputError';
}

/** ThingPark answered with a status other than 2xx. `thingparkMessage` is ThingPark's own explanation. */
export class ThingParkApiError extends Error {
  override readonly name = 'ThingParkApiError';
  constructor(
    readonly status: number,
    readonly thingparkMessage: string,
    readonly body?: unknown,
  ) {
    super(thingparkMessage ? `HTTP ${status}: ${thingparkMessage}` : `HTTP ${status}`);
  }
}

const MESSAGE_FIELDS = ['message', 'error_description', 'errorMessage', 'description', 'detail', 'error'];

/**
 * ThingPark's explanation in an error answer: the first text field of the usual names (OSS and DX
 * answers carry `message`; the Keycloak token endpoint `error_description` / `error`), else the start of
 * the body as text.
 */
export function errorMessageOf(body: unknown, text: string): string {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    for (const field of MESSAGE_FIELDS) {
      const value = record[field];
      if (typeof value === 'string' && value.trim()) return value.trim().slice(0, 500);
    }
  }
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}
