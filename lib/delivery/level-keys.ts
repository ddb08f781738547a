/**
 * The LevelDB key layout of the queues older versions wrote (kept for importing them into SQLite,
 * lib/delivery/legacy-leveldb); all utf8 strings:
 *   e!<escaped key>\0<seq>  → body JSON        entries, one range per key, in seq order
 *   g!<seq>                 → "<size> <key>"   global order index (drop-oldest, verification)
 *   k!<key>                 → "<count> <bytes>" per-key counters, written in the same batches
 *   d!<id>                  → dead letter JSON
 * <seq> and <id> are 16 hex digits, so byte order is numeric order.
 */

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function parseHex16(s: string): number {
  return parseInt(s, 16);
}

/** No \0 left in the key, so "<escaped key>\0" never prefixes another key's range. */
function escapeKey(key: string): string {
  if (!key.includes('\x00') && !key.includes('\x01')) return key;
  return key.split('\x01').join('\x01\x02').split('\x00').join('\x01\x01');
}

export function entryKey(key: string, seq: number): string {
  return 'e!' + escapeKey(key) + '\x00' + hex16(seq);
}

/** Bounds of the entries of `key` after `afterSeq` (all of them when negative). */
export function entryRange(key: string, afterSeq: number): { gt: string; lt: string } {
  const escaped = escapeKey(key);
  const prefix = 'e!' + escaped + '\x00';
  return { gt: afterSeq < 0 ? prefix : prefix + hex16(afterSeq), lt: 'e!' + escaped + '\x01' };
}

export function seqOfEntryKey(k: string): number {
  return parseHex16(k.slice(-16));
}

export const ENTRIES = { gte: 'e!', lt: 'e"' };
export const INDEX = { gte: 'g!', lt: 'g"' };
export const COUNTERS = { gte: 'k!', lt: 'k"' };
export const DEAD = { gte: 'd!', lt: 'd"' };

export function indexKey(seq: number): string {
  return 'g!' + hex16(seq);
}

export function indexValue(key: string, size: number): string {
  return size + ' ' + key;
}

export function parseIndexValue(v: string): { key: string; size: number } {
  const space = v.indexOf(' ');
  return { size: Number(v.slice(0, space)), key: v.slice(space + 1) };
}

export function counterKey(key: string): string {
  return 'k!' + key;
}

export function counterValue(count: number, bytes: number): string {
  return count + ' ' + bytes;
}

export function parseCounterValue(v: string): { count: number; bytes: number } {
  const space = v.indexOf(' ');
  return { count: Number(v.slice(0, space)) || 0, bytes: Number(v.slice(space + 1)) || 0 };
}

export function deadKey(id: number): string {
  return 'd!' + hex16(id);
}
