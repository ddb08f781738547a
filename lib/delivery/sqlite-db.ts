/**
 * The few parts of Node's built-in `node:sqlite` the store uses, typed here so the code does not depend
 * on which @types/node is installed, and loaded on demand so a Node.js without it falls back to memory.
 */

export interface SqliteStatement {
  run(...params: Array<string | number | null>): { changes: number | bigint };
  get(...params: Array<string | number | null>): Record<string, unknown> | undefined;
  all(...params: Array<string | number | null>): Array<Record<string, unknown>>;
  iterate(...params: Array<string | number | null>): IterableIterator<Record<string, unknown>>;
}

export interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

export type SqliteConstructor = new (file: string, options?: { readOnly?: boolean }) => SqliteDatabase;

/** SQLite's primary result codes (an extended code's low byte). */
export const SQLITE_BUSY = 5;
export const SQLITE_LOCKED = 6;
export const SQLITE_CORRUPT = 11;
export const SQLITE_FULL = 13;
export const SQLITE_NOTADB = 26;

/** The primary SQLite result code of an error thrown by node:sqlite, or undefined for another error. */
export function sqliteCode(err: unknown): number | undefined {
  const code = (err as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/** Node 22 warns once per process that SQLite is experimental; `loadSqlite` lets that one warning through. */
export function loadSqlite(): SqliteConstructor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('node:sqlite') as { DatabaseSync?: SqliteConstructor };
  if (typeof mod.DatabaseSync !== 'function') throw new TypeError('node:sqlite has no DatabaseSync');
  return mod.DatabaseSync;
}
