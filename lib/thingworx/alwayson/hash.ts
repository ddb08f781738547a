/**
 * 32-bit FNV-1a over the UTF-8 bytes of `text` (offset basis 0x811C9DC5, prime 0x01000193), as an unsigned
 * number. `fnv1a32('')` is 0x811C9DC5, `fnv1a32('a')` is 0xE40C292C.
 */
export function fnv1a32(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The pipe (socket) a Thing is bound on: `fnv1a32(utf8(name)) % pipeCount`. Stable across restarts, processes
 * and Node versions, so a Thing always lands on the same pipe for a given pipe count.
 */
export function pipeIndexFor(thingName: string, pipeCount: number): number {
  if (!Number.isInteger(pipeCount) || pipeCount < 1)
    throw new RangeError(`pipeCount ${pipeCount} must be >= 1`);
  return pipeCount === 1 ? 0 : fnv1a32(thingName) % pipeCount;
}
