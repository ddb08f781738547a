import type * as https from 'https';
import { ThingParkApiError, errorMessageOf } from '../mapping/errors';
import { httpRequest } from './http';

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  tls?: https.RequestOptions;
  timeoutMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * OAuth2 client-credentials tokens of a ThingPark service account: one cached token, renewed before
 * `expires_in` runs out (10 % early, at most a minute), one request at a time however many callers wait.
 */
export class TokenSource {
  private token?: { value: string; renewAt: number };
  private pending?: Promise<string>;
  /** Tokens obtained so far (statistics, tests). */
  issued = 0;

  constructor(private readonly options: TokenSourceOptions) {}

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  /** A token still valid by our reckoning. */
  get(signal?: AbortSignal): Promise<string> {
    if (this.token && this.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    return this.fetch(signal);
  }

  /** Forgets `rejected` (ThingPark said 401 with it) and gets another, unless one newer is already here. */
  renew(rejected: string, signal?: AbortSignal): Promise<string> {
    if (this.token && this.token.value !== rejected) return Promise.resolve(this.token.value);
    this.token = undefined;
    return this.fetch(signal);
  }

  /** The token in use, if any (for callers that keep it out of what they say). */
  get current(): string | undefined {
    return this.token?.value;
  }

  forget(): void {
    this.token = undefined;
  }

  private fetch(signal?: AbortSignal): Promise<string> {
    this.pending ??= this.request(signal).finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async request(signal?: AbortSignal): Promise<string> {
    const { clientId, clientSecret } = this.options;
    if (!clientId || !clientSecret)
      throw new ThingParkApiError(0, 'the account has no client ID or client secret');
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    }).toString();
    const started = this.now();
    const answer = await httpRequest(this.options.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
      tls: this.options.tls,
      timeoutMs: this.options.timeoutMs,
      maxBytes: 1 << 20,
      signal,
    });
    const json = answer.json as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (answer.status < 200 || answer.status >= 300 || typeof json?.access_token !== 'string') {
      // Keycloak's error answers name the error, never the secret; the text is cut anyway.
      const message = errorMessageOf(answer.json, answer.text) || 'no access token in the answer';
      throw new ThingParkApiError(answer.status, `token request refused: ${message}`);
    }
    const expiresIn = Number(json.expires_in);
    const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn >= 0 ? expiresIn : 300) * 1000;
    const margin = Math.min(60000, lifetimeMs * 0.1);
    this.token = { value: json.access_token, renewAt: started + lifetimeMs - margin };
    this.issued++;
    return json.access_token;
  }
}
