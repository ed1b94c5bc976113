/**
 * Opening one SQLite database of DATA_DIR (better-sqlite3), as every SQLite store here does: the directory
 * created when needed, or an in-memory database when `dataDir` is ':memory:' (tests); WAL journal (readers
 * never wait for the writer); a 5 s busy timeout for a writer in another process or thread. Only the
 * synchronous level differs between stores: FULL where an acknowledged write must survive a power cut,
 * NORMAL (WAL: survives a process crash) where losing the last moments costs little. https://sqlite.org/pragma.html
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export interface SqliteFileOptions {
  synchronous: 'FULL' | 'NORMAL';
}

/** Opens (creating when needed) `file` in `dataDir`, or an in-memory database for ':memory:'. */
export function openSqliteFile(dataDir: string, file: string, options: SqliteFileOptions): Database.Database {
  let target = ':memory:';
  if (dataDir !== ':memory:') {
    fs.mkdirSync(dataDir, { recursive: true });
    target = path.join(dataDir, file);
  }
  const db = new Database(target);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous}`);
  db.pragma('busy_timeout = 5000');
  return db;
}
