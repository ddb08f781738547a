import type { MinutePoint } from './minute-history';

/** What the sidebar and the metrics show of one platform connection (never a credential). */
export interface ConnectionSnapshot {
  id: string;
  /** Node type, e.g. `thingpark-wmw`: its `.write` permission guards Resend and Discard. */
  type: string;
  name: string;
  platform: string;
  state: string;
  reconnects: number;
  lastError?: string;
  queued: number;
  bytes: number;
  delivered: number;
  dropped: number;
  rejected: number;
  retries: number;
  deadLetters: number;
  /** Per minute: `gauge` = most entries queued, `count` = entries delivered. */
  history: MinutePoint[];
}

/** The ThingPark network node: where uplinks come from. */
export interface NetworkSnapshot {
  id: string;
  type: string;
  name: string;
  mode: string;
  /** `connected`/`connecting`/`disconnected` in MQTT mode, `listening` in HTTP mode. */
  state: string;
  reconnects: number;
  lastError?: string;
  uplinks: number;
  /** Per minute: `count` = uplinks received. */
  history: MinutePoint[];
}

const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi;

/**
 * A text safe to show: URL user info removed, every given secret (credential values) masked. Secrets
 * shorter than 4 characters are masked only as whole words, so that "a" does not mask every letter a.
 */
export function scrub(text: string | undefined, secrets: readonly unknown[]): string | undefined {
  if (text === undefined) return undefined;
  let out = text.replace(USERINFO, '$1***@');
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(secret.length < 4 ? `\\b${escaped}\\b` : escaped, 'g'), '***');
  }
  return out;
}
