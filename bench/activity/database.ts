/**
 * The search benchmark's direct access to the local D1 file (node:sqlite, with the server stopped for writes):
 * bulk loading through the same `activity` table (so the FTS5 triggers index every row), the server's own
 * search code run on the file (engine time without HTTP, workerd or D1's message passing), and the `LIKE`
 * baseline over the same rows and columns.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import type { ActivityEvent, SearchIn } from '../../protocol/activity.ts';
import type { checkEvents } from '../../worker/activity/events.ts';
import { serverRoot } from './server.ts';

/** What the server's worker/activity/search/ and events.ts export, as this benchmark calls them. */
export interface ActivityMatch {
  sessionId: string;
  id: number;
  type: string;
  offsetMs: number;
  snippet: string;
}
interface BoundLike {
  all<T>(): Promise<{ results: T[] }>;
  first<T>(): Promise<T | null>;
}
interface D1Like {
  prepare(sql: string): { bind(...values: SQLInputValue[]): BoundLike };
  batch<T>(statements: BoundLike[]): Promise<Array<{ results: T[] }>>;
}
export interface ServerCode {
  checkEvents: typeof checkEvents;
  searchSessions(
    databases: readonly D1Like[],
    text: string,
    within: readonly SearchIn[],
    options: {
      perSession: number;
      maxSessions: number;
      accept: (ids: string[]) => Promise<Set<string>>;
      cursor?: string | null;
    },
  ): Promise<{ sessions: Map<string, ActivityMatch[]>; nextCursor: string | null }>;
  /** Statements ingest runs after each batch, in its transaction (the new events' search terms). */
  FLUSH_SEARCH_TERMS: readonly string[];
}

/**
 * The measured server's own modules: the engine measurement runs exactly its search SQL and merging, and the
 * bulk load maps events to rows with its code. Loaded at run time, from the server root: the search code's
 * signatures name Workers types (D1Database) that this Node-typed program does not have.
 */
export async function loadServerCode(): Promise<ServerCode> {
  const load = (file: string) => import(pathToFileURL(path.join(serverRoot, file)).href);
  const [search, terms, events] = await Promise.all([
    load('worker/activity/search/sessions.ts'),
    load('worker/activity/search/terms.ts'),
    load('worker/activity/events.ts'),
  ]);
  return { ...search, ...terms, checkEvents: events.checkEvents } as ServerCode;
}

/** The options routes/sessions.ts passes to searchSessions for a default page (no other filters). */
export const SEARCH_OPTIONS = {
  perSession: 5,
  maxSessions: 50,
  accept: async (ids: string[]) => new Set(ids),
} as const;

/**
 * Just enough of D1's API over node:sqlite for searchSessions (prepare → bind → all, batch); `seen`, when given,
 * hears each statement and its bindings (to EXPLAIN the server's own SQL).
 */
export function asD1(db: DatabaseSync, seen?: (sql: string, values: SQLInputValue[]) => void): D1Like {
  return {
    prepare: (sql) => ({
      bind: (...values) => ({
        all: async <T>() => {
          seen?.(sql, values);
          return { results: db.prepare(sql).all(...values) as T[] };
        },
        first: async <T>() => {
          seen?.(sql, values);
          return (db.prepare(sql).get(...values) as T | undefined) ?? null;
        },
      }),
    }),
    batch: async <T>(statements: BoundLike[]) => Promise.all(statements.map((statement) => statement.all<T>())),
  };
}

export function openDatabase(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 5000');
  return db;
}

export interface BulkSession {
  id: string;
  events: ActivityEvent[];
}

/**
 * Stores sessions' events as the ingest API would (worker/activity/ingest.ts): the same row mapping
 * (checkEvents), one transaction per batch holding the batch record, its events and the server's search-term
 * flush (FLUSH_SEARCH_TERMS), batches numbered from 0
 * per session. Sessions are interleaved batch by batch, as concurrent sessions arrive, so row ids (which
 * search orders by) mix sessions the way real traffic does.
 */
export function bulkLoad(
  db: DatabaseSync,
  server: ServerCode,
  sessions: readonly BulkSession[],
  batchSize: number,
): number {
  // Per connection only: a crash mid-load loses a benchmark, not data anyone needs.
  db.exec('PRAGMA synchronous = OFF');
  const insertEvent = db.prepare(
    `INSERT INTO activity (session_id, batch, idx, type, at_ms, end_ms, text, app, title, name, path, user, pid, ppid,
                           redacted)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertBatch = db.prepare(
    'INSERT INTO activity_batches (session_id, batch, sha256, stored, rejected, received_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const batches = Math.max(...sessions.map((s) => Math.ceil(s.events.length / batchSize)));
  let stored = 0;
  for (let batch = 0; batch < batches; batch++) {
    for (const session of sessions) {
      const events = session.events.slice(batch * batchSize, (batch + 1) * batchSize);
      if (events.length === 0) continue;
      const body = JSON.stringify({ events });
      const checked = server.checkEvents(events, {
        sessionId: session.id,
        batch,
        keystrokesEnabled: true,
        customPatterns: [],
        latestMs: Number.MAX_SAFE_INTEGER,
      });
      if (checked.rejected.length) throw new Error(`generated an invalid event: ${checked.rejected[0]?.reason}`);
      db.exec('BEGIN');
      insertBatch.run(
        session.id,
        batch,
        createHash('sha256').update(body).digest('hex'),
        checked.rows.length,
        '[]',
        Date.now(),
      );
      for (const row of checked.rows) {
        insertEvent.run(
          row.sessionId,
          row.batch,
          row.idx,
          row.type,
          row.atMs,
          row.endMs ?? null,
          row.text ?? null,
          row.app ?? null,
          row.title ?? null,
          row.name ?? null,
          row.path ?? null,
          row.user ?? null,
          row.pid ?? null,
          row.ppid ?? null,
          row.redacted ? 1 : 0,
        );
      }
      for (const statement of server.FLUSH_SEARCH_TERMS) db.exec(statement);
      db.exec('COMMIT');
      stored += checked.rows.length;
    }
  }
  return stored;
}

/** The columns worker/activity/search/query.ts searches for each category (its SEARCH_COLUMNS), for the LIKE baseline. */
const LIKE_COLUMNS: Record<SearchIn, readonly string[]> = {
  keystrokes: ['text'],
  ssh: ['text'],
  apps: ['app'],
  processes: ['name', 'path', 'text'],
  windows: ['title'],
};
const SEARCH_TYPES: Record<SearchIn, readonly string[]> = {
  keystrokes: ['keys'],
  ssh: ['ssh.input'],
  apps: ['window.focus', 'keys'],
  processes: ['process.start', 'process.stop'],
  windows: ['window.focus', 'keys'],
};

function likePattern(word: string): string {
  return `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The search without FTS: the same categories, columns, types, newest-first limit and per-session merge as
 * searchSessions, each word a `LIKE '%word%'` over the category's columns (all words must match).
 */
export function likeSearch(db: DatabaseSync, text: string, within: readonly SearchIn[]): Map<string, number[]> {
  const words = text.split(/\s+/).filter(Boolean).slice(0, 16);
  const found = new Map<string, number[]>();
  for (const category of within) {
    const columns = LIKE_COLUMNS[category];
    const types = SEARCH_TYPES[category];
    const conditions = words.map(() => `(${columns.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')})`);
    const rows = db
      .prepare(
        `SELECT session_id AS sessionId, id, ${columns.join(', ')}
           FROM activity
          WHERE type IN (${types.map(() => '?').join(', ')}) AND ${conditions.join(' AND ')}
          ORDER BY id DESC
          LIMIT ${SEARCH_OPTIONS.maxSessions * SEARCH_OPTIONS.perSession}`,
      )
      .all(...types, ...words.flatMap((w) => columns.map(() => likePattern(w)))) as Array<{
      sessionId: string;
      id: number;
    }>;
    for (const row of rows) {
      const list = found.get(row.sessionId) ?? [];
      if (list.length < SEARCH_OPTIONS.perSession && !list.includes(row.id)) list.push(row.id);
      found.set(row.sessionId, list);
    }
  }
  return found;
}

/**
 * The benchmark's own reference index, independent of the server's: an external-content FTS5 table over the
 * stored events' text, app, title, name and path with the server's tokenizer (what the server's first index,
 * `activity_fts`, was until migration 0007). Query choice and the recall check count on it, so the index
 * under test is not its own judge. Untimed; built once after loading.
 */
export function buildReferenceIndex(db: DatabaseSync): void {
  db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS bench_reference USING fts5(
             text, app, title, name, path, content='activity', content_rowid='id',
             tokenize='unicode61 remove_diacritics 2')`);
  db.exec(`INSERT INTO bench_reference (bench_reference) VALUES ('rebuild')`);
}

/** Sizes of the activity table, its indexes and the FTS5 index, from dbstat. */
export function storageSizes(db: DatabaseSync): Array<{ name: string; bytes: number }> {
  return db
    .prepare(
      `SELECT name, sum(pgsize) AS bytes FROM dbstat
        WHERE name LIKE 'activity%' OR name LIKE 'sqlite_autoindex_activity%'
        GROUP BY name ORDER BY bytes DESC`,
    )
    .all() as Array<{ name: string; bytes: number }>;
}

/** EXPLAIN QUERY PLAN lines for a statement. */
export function queryPlan(db: DatabaseSync, sql: string, params: SQLInputValue[]): string[] {
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{
    id: number;
    parent: number;
    detail: string;
  }>;
  const depth = new Map<number, number>([[0, -1]]);
  return rows.map((r) => {
    const d = (depth.get(r.parent) ?? -1) + 1;
    depth.set(r.id, d);
    return `${'  '.repeat(d)}${r.detail}`;
  });
}
