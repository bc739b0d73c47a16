import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { missingError, openError } from './errors.js';
import { checkSchema, migrate } from './migrations.js';
import { Store } from './store.js';
import type { StoreOptions } from './types.js';

/** How long a connection waits for a lock before SQLITE_BUSY (the writer's checkpoints, a second writer). */
const BUSY_TIMEOUT_MS = 5000;
/** Page size of a new store, in bytes. */
const PAGE_SIZE = 16_384;
/** Page cache per connection by default, in KiB (negative `cache_size` means KiB). */
const CACHE_KIB = 64 * 1024;
/** The page cache of a running Tollgate's admin connection (queries), in KiB. */
export const SERVER_CACHE_KIB = 16 * 1024;
/**
 * The page cache of the writer and the shipper, in KiB: the writer appends (time-ordered keys,
 * the client and user runs built in memory) and the shipper reads forward from its cursor, so
 * their working sets are the last pages. 4 MiB instead of 16 took 10–14 MiB off the peak RSS
 * under load and changed the writer's CPU per record by nothing measurable (paired rounds of
 * `bench-writer --writer-only`: 0.99, 1.06, 0.97).
 */
export const STREAM_CACHE_KIB = 4 * 1024;

/**
 * Opens the embedded store. Without `readonly` this is the writer connection (one per store:
 * the audit writer thread): it creates the folder and the file (mode 0600), switches to WAL with
 * `synchronous=NORMAL` (a commit is durable against a process crash at once and against power
 * loss at the next checkpoint) and runs the migrations. With `readonly` it opens an existing store
 * for the CLI and the admin API; WAL lets those read while the writer keeps committing.
 */
export function openStore(file: string, options: StoreOptions = {}): Store {
  const now = options.now ?? Date.now;
  const cache = options.cacheKiB ?? CACHE_KIB;
  return options.readonly === true ? openReader(file, now, cache) : openWriter(file, now, cache);
}

function openWriter(file: string, now: () => number, cacheKiB: number): Store {
  let db: Database.Database | null = null;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it is never world-readable, even for a moment; SQLite gives
    // the -wal and -shm files the same mode.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    // Takes effect only on a new, empty file (before WAL): 16 KiB pages hold ~9 records of
    // ~1.5 KB instead of 2 and keep the eight indexes shallower; fills ~35% faster here.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`the file system refused WAL mode (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma(`cache_size = -${cacheKiB}`);
    db.pragma('temp_store = MEMORY');
    // wal_autocheckpoint stays at SQLite's 1,000 pages: the checkpoint runs inside the commit
    // that crosses it, and 4,096 pages gave ~12% more rows/s but commits stalled up to ~170 ms
    // instead of ~70 ms (docs/benchmarks.md).
    // Keep the WAL file from staying huge after a burst once it has been checkpointed.
    db.pragma(`journal_size_limit = ${CACHE_KIB * 1024}`);
    migrate(db, file, now);
    return new Store(db, { file, readonly: false, now });
  } catch (err) {
    db?.close();
    throw openError(file, err);
  }
}

function openReader(file: string, now: () => number, cacheKiB: number): Store {
  if (!fs.existsSync(file)) throw missingError(file);
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma(`cache_size = -${cacheKiB}`);
    db.pragma('temp_store = MEMORY');
    checkSchema(db, file);
    return new Store(db, { file, readonly: true, now });
  } catch (err) {
    db?.close();
    if ((err as { code?: unknown }).code === 'SQLITE_CANTOPEN' && !fs.existsSync(file))
      throw missingError(file);
    throw openError(file, err);
  }
}
