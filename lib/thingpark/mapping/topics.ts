import { isDevEUI } from './document-types';
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
  return devEUIReader(pattern)(topic);
}

/**
 * `devEUIFromTopic` for one pattern, prepared once: reading a topic then splits nothing (it runs for
 * every uplink).
 */
export function devEUIReader(pattern: string): (topic: string) => string | undefined {
  const levels = pattern.split('/');
  const index = levels.findIndex((level) => level.includes('{DevEUI}'));
  if (index < 0) return () => undefined;
  const at = levels[index].indexOf('{DevEUI}');
  const suffixLength = levels[index].length - at - '{DevEUI}'.length;
  return (topic) => {
    let start = 0;
    for (let i = 0; i < index; i++) {
      start = topic.indexOf('/', start) + 1;
      if (start === 0) return undefined;
    }
    let end = topic.indexOf('/', start);
    if (end < 0) end = topic.length;
    if (countLevels(topic) !== levels.length) return undefined;
    const value = topic.slice(start + at, end - suffixLength);
    return isDevEUI(value) ? value.toUpperCase() : undefined;
  };
}

function countLevels(topic: string): number {
  let n = 1;
  for (let i = topic.indexOf('/'); i >= 0; i = topic.indexOf('/', i + 1)) n++;
  return n;
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
