/**
 * SessionDO's own SQLite: the session record, the live piece index and in-flight upload leases.
 * All calls are synchronous (the Durable Object SQL API), so a method's reads and writes cannot interleave.
 */
import { hex } from '../protocol/hex.ts';
import type { StoredPiece } from './live-cursor.ts';
import { readRecord, type SessionRecord } from './session-record.ts';

export interface PieceRow {
  seq: number;
  size: number;
  startMs: number;
  endMs: number;
  keyframe: boolean;
  sha256: string;
  storedAt: number;
  /**
   * Which upload attempt's object holds the bytes (`pieceKey(…, attempt)`); null for pieces stored before
   * attempts had their own objects, under the plain key.
   */
  attempt: string | null;
}

/** The hash chain so far: `head` is the link of `through`, and every piece 0..through is stored. */
export interface ChainProgress {
  head: string;
  through: number;
}

/** The sealed recording.webm as stored in R2 (hashed when sealed, never recomputed afterwards). */
export interface SealedFile {
  key: string;
  size: number;
  sha256: string;
  mediaDurationMs: number;
}

/** How long an upload may hold its sequence number before another attempt may take it. */
export const UPLOAD_LEASE_MS = 60_000;

export class SessionStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS pieces (
      seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
      keyframe INTEGER NOT NULL, sha256 TEXT NOT NULL, stored_at INTEGER NOT NULL)`);
    if (!columns(sql, 'pieces').includes('attempt')) sql.exec(`ALTER TABLE pieces ADD COLUMN attempt TEXT`);
    // Leases are short-lived: a table from before attempts (no `attempt` column) is simply made again.
    if (!columns(sql, 'uploads').includes('attempt')) sql.exec(`DROP TABLE IF EXISTS uploads`);
    sql.exec(`CREATE TABLE IF NOT EXISTS uploads (
      seq INTEGER PRIMARY KEY, attempt TEXT NOT NULL, lease_until INTEGER NOT NULL)`);
  }

  /** The session's record, validated and migrated to the current version; throws RecordUnreadable if it can't be. */
  load(): SessionRecord | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = ?`, 'session').toArray()[0];
    return row ? readRecord(row.value) : null;
  }

  save(record: SessionRecord): void {
    this.#put('session', record);
  }

  chainProgress(): ChainProgress | null {
    return this.#get<ChainProgress>('chain');
  }

  saveChainProgress(progress: ChainProgress): void {
    this.#put('chain', progress);
  }

  sealedFile(): SealedFile | null {
    return this.#get<SealedFile>('sealed-file');
  }

  saveSealedFile(file: SealedFile): void {
    this.#put('sealed-file', file);
  }

  piece(seq: number): PieceRow | null {
    return this.#rows(`SELECT * FROM pieces WHERE seq = ?`, seq)[0] ?? null;
  }

  addPiece(piece: PieceRow): void {
    this.sql.exec(
      `INSERT INTO pieces (seq, size, start_ms, end_ms, keyframe, sha256, stored_at, attempt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      piece.seq,
      piece.size,
      piece.startMs,
      piece.endMs,
      piece.keyframe ? 1 : 0,
      piece.sha256,
      piece.storedAt,
      piece.attempt,
    );
    this.sql.exec(`DELETE FROM uploads WHERE seq = ?`, piece.seq);
  }

  /** Every piece in sequence order (used when sealing and copying the index to D1). */
  allPieces(): PieceRow[] {
    return this.#rows(`SELECT * FROM pieces ORDER BY seq`);
  }

  storedSeqs(): number[] {
    return this.sql
      .exec<{ seq: number }>(`SELECT seq FROM pieces ORDER BY seq`)
      .toArray()
      .map((r) => r.seq);
  }

  /** The newest stored sequence numbers (a reconnecting launcher drops these from its spool). */
  recentSeqs(limit = 1000): number[] {
    return this.sql
      .exec<{ seq: number }>(`SELECT seq FROM pieces ORDER BY seq DESC LIMIT ?`, limit)
      .toArray()
      .map((r) => r.seq)
      .reverse();
  }

  totals(): { pieces: number; bytes: number; lastSeq: number | null } {
    const row = this.sql
      .exec<{ n: number; bytes: number | null; last: number | null }>(
        `SELECT COUNT(*) AS n, SUM(size) AS bytes, MAX(seq) AS last FROM pieces`,
      )
      .one();
    return { pieces: row.n, bytes: row.bytes ?? 0, lastSeq: row.last };
  }

  /** Pieces after `seq`, oldest first, at most `limit`. */
  piecesAfter(seq: number, limit = 500): StoredPiece[] {
    return this.#rows(`SELECT * FROM pieces WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit);
  }

  /** The init segment plus every piece from the newest keyframe on: what a joining viewer needs. */
  catchUpPieces(): StoredPiece[] {
    return this.#rows(
      `SELECT * FROM pieces WHERE seq = 0
         OR seq >= COALESCE((SELECT MAX(seq) FROM pieces WHERE keyframe = 1 AND seq > 0), 1)
       ORDER BY seq`,
    );
  }

  /**
   * Claims `seq` for a new upload attempt and names it; null if another attempt holds an unexpired lease on it.
   * An attempt whose lease ran out keeps its row until another claims the seq, so it can still commit if nobody
   * did (see `holdsClaim`).
   */
  claimUpload(seq: number, now: number): string | null {
    const attempt = newAttemptId();
    // One statement: a new row, or the row of an attempt whose lease ran out taken over; nothing if one still runs.
    const claimed = this.sql
      .exec(
        `INSERT INTO uploads (seq, attempt, lease_until) VALUES (?, ?, ?)
         ON CONFLICT (seq) DO UPDATE SET attempt = excluded.attempt, lease_until = excluded.lease_until
         WHERE uploads.lease_until <= ?
         RETURNING attempt`,
        seq,
        attempt,
        now + UPLOAD_LEASE_MS,
        now,
      )
      .toArray();
    return claimed.length > 0 ? attempt : null;
  }

  /** Whether `attempt` is still the one upload allowed to make `seq` canonical. */
  holdsClaim(seq: number, attempt: string): boolean {
    return this.sql.exec(`SELECT 1 FROM uploads WHERE seq = ? AND attempt = ?`, seq, attempt).toArray().length > 0;
  }

  /** Frees `seq` for another attempt, if `attempt` still holds it. */
  releaseUpload(seq: number, attempt: string): void {
    this.sql.exec(`DELETE FROM uploads WHERE seq = ? AND attempt = ?`, seq, attempt);
  }

  /** The latest lease still running, or null when no upload is in flight. */
  uploadsInFlightUntil(now: number): number | null {
    const row = this.sql
      .exec<{ until: number | null }>(`SELECT MAX(lease_until) AS until FROM uploads WHERE lease_until > ?`, now)
      .one();
    return row.until;
  }

  #get<T>(key: string): T | null {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = ?`, key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }

  #put(key: string, value: unknown): void {
    this.sql.exec(`INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)`, key, JSON.stringify(value));
  }

  #rows(query: string, ...bindings: unknown[]): PieceRow[] {
    return this.sql
      .exec<{
        seq: number;
        size: number;
        start_ms: number;
        end_ms: number;
        keyframe: number;
        sha256: string;
        stored_at: number;
        attempt: string | null;
      }>(query, ...bindings)
      .toArray()
      .map((r) => ({
        seq: r.seq,
        size: r.size,
        startMs: r.start_ms,
        endMs: r.end_ms,
        keyframe: r.keyframe === 1,
        sha256: r.sha256,
        storedAt: r.stored_at,
        attempt: r.attempt,
      }));
  }
}

function columns(sql: SqlStorage, table: string): string[] {
  return sql
    .exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table)
    .toArray()
    .map((c) => c.name);
}

/** 12 hex digits: unique among the attempts at one piece, short in an object key. */
function newAttemptId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return hex(bytes);
}
