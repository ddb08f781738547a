import { isPlainObject } from './normalise';

const PLACEHOLDER_RE = /\{([^{}]+)\}/g;

/**
 * The MQTT subscription filter for a topic pattern with `{Field}` placeholders: each level holding a
 * placeholder becomes `+`. With a group, a shared subscription (`$share/<group>/<filter>`) so several
 * Node-RED instances split one stream.
 */
export function subscriptionFilter(pattern: string, sharedGroup?: string): string {
  const filter = pattern
    .split('/')
    .map((level) => (/\{[^{}]+\}/.test(level) ? '+' : level))
    .join('/');
  return sharedGroup ? `$share/${sharedGroup}/${filter}` : filter;
}

/** Reads the DevEUI out of a topic that matched a pattern holding `{DevEUI}`, if it does. */
export function devEUIFromTopic(pattern: string, topic: string): string | undefined {
  const levels = pattern.split('/');
  const actual = topic.split('/');
  if (levels.length !== actual.length) return undefined;
  for (let i = 0; i < levels.length; i++) {
    const at = levels[i].indexOf('{DevEUI}');
    if (at < 0) continue;
    const suffix = levels[i].slice(at + '{DevEUI}'.length);
    const value = actual[i].slice(at, actual[i].length - suffix.length);
    return /^[0-9a-fA-F]{16}$/.test(value) ? value.toUpperCase() : undefined;
  }
  return undefined;
}

/** Fills a topic pattern from a document body; a placeholder may be a dotted path (`{CustomerData.name}`). */
export function resolveTopic(pattern: string, body: Record<string, unknown>): string {
  return pattern.replace(PLACEHOLDER_RE, (_match, path: string) => {
    let value: unknown = body;
    for (const part of path.replace(/^\$\./, '').split('.'))
      value = isPlainObject(value) ? value[part] : undefined;
    if (value === undefined || value === null || typeof value === 'object') {
      throw new Error(`topic placeholder {${path}} has no value in the document`);
    }
    const text = String(value);
    if (/[+#/]/.test(text)) throw new Error(`topic placeholder {${path}} holds an MQTT wildcard or '/'`);
    return text;
  });
}
