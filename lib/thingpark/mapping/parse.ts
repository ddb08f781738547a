import { XMLParser } from 'fast-xml-parser';
import { DocumentError } from './document-types';

/** Fields that repeat in ThingPark XML and must always be arrays in JSON. */
const XML_ARRAY_PATHS = new Set(['Lrrs.Lrr', 'CustomerData.tags', 'CustomerData.doms']);

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (_name, jpath) => XML_ARRAY_PATHS.has(String(jpath).split('.').slice(1).join('.')),
});

/**
 * Parses a ThingPark document body: JSON (typed or untyped) or XML (the default content type of a
 * new ThingPark application server). Returns the raw object, values as they came (strings stay strings).
 */
export function parseDocumentText(text: string): unknown {
  const trimmed = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).trim();
  if (trimmed === '') throw new DocumentError('empty body', 'syntax');
  if (trimmed.startsWith('<')) return parseXml(trimmed);
  try {
    return JSON.parse(trimmed) as unknown;
  } catch (err) {
    throw new DocumentError(`not JSON or XML: ${(err as Error).message}`, 'syntax');
  }
}

function parseXml(text: string): unknown {
  // ThingPark never sends a DTD; refusing one rules out entity-expansion attacks.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new DocumentError('XML with a DTD is not accepted', 'syntax');
  let parsed: Record<string, unknown>;
  try {
    parsed = xmlParser.parse(text, true) as Record<string, unknown>;
  } catch (err) {
    throw new DocumentError(`malformed XML: ${(err as Error).message}`, 'syntax');
  }
  const roots = Object.keys(parsed).filter((k) => k !== '?xml');
  if (roots.length !== 1) throw new DocumentError('XML must have exactly one root element', 'syntax');
  const root = roots[0];
  const content = parsed[root];
  return { [root]: content === '' ? {} : content };
}
