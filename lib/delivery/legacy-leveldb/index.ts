/**
 * Reading the LevelDB queue that versions before the SQLite store left on disk, without LevelDB
 * (no native module): its MANIFEST, tables (snappy-compressed blocks) and write-ahead logs, merged
 * as LevelDB would, then carried into the new store once.
 */
export { hasLegacyQueue, importLegacyQueue, type LegacyImport } from './import-legacy-queue';
export { readLevelDb } from './read-leveldb';
