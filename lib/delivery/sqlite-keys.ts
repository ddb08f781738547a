/**
 * Keys as the SQLite store keeps them. node:sqlite ends a bound string at its first NUL, so a key
 * holding one ("a\0b") would be stored cut short and never read back: NUL and \x01 are escaped
 * (\x01 → \x01\x02, NUL → \x01\x01), reversibly, and any other key is stored as it is. The
 * LevelDB queue of 0.1 escaped its keys the same way (legacy-leveldb reads them with keyFromStore).
 */
export function storedKey(key: string): string {
  if (!key.includes('\x00') && !key.includes('\x01')) return key;
  return key.split('\x01').join('\x01\x02').split('\x00').join('\x01\x01');
}

export function keyFromStore(stored: string): string {
  if (!stored.includes('\x01')) return stored;
  let out = '';
  for (let i = 0; i < stored.length; i++) {
    if (stored[i] === '\x01' && i + 1 < stored.length) out += stored[++i] === '\x01' ? '\x00' : '\x01';
    else out += stored[i];
  }
  return out;
}
