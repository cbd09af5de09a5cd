/**
 * On-disk spool: every piece is written here before it is uploaded and deleted only once the server has
 * acknowledged it, so a crash, a network outage or a refused piece never loses video; activity batches
 * likewise, in `events/`.
 * Layout: `<seq>.webm` (the bytes; `<seq>.cast` for asciicast) and `<seq>.json` (metadata, written last: a piece exists once it has one).
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { MediaPiece } from './webm-splitter.ts';

export const SpooledPiece = z.strictObject({
  seq: z.number().int().min(0),
  size: z.number().int().min(0),
  sha256: z.string(),
  keyframe: z.boolean(),
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
});
/** What the spool keeps in memory about a piece: everything but its bytes. */
export type SpooledPiece = z.infer<typeof SpooledPiece>;

const name = (seq: number) => String(seq).padStart(10, '0');

export class Spool {
  readonly dir: string;
  /** File extension of the pieces' bytes: `webm`, or `cast` for the SSH proxy's asciicast pieces. */
  readonly #extension: string;

  constructor(dir: string, extension = 'webm') {
    this.dir = dir;
    this.#extension = extension;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Writes a piece (bytes first, then metadata, each via rename so no half file looks complete). */
  write(piece: MediaPiece): SpooledPiece {
    const meta: SpooledPiece = {
      seq: piece.seq,
      size: piece.bytes.byteLength,
      sha256: createHash('sha256').update(piece.bytes).digest('hex'),
      keyframe: piece.keyframe,
      startMs: piece.startMs,
      endMs: piece.endMs,
    };
    const base = join(this.dir, name(piece.seq));
    writeFileSync(`${base}.${this.#extension}.tmp`, piece.bytes, { mode: 0o600 });
    renameSync(`${base}.${this.#extension}.tmp`, `${base}.${this.#extension}`);
    writeFileSync(`${base}.json.tmp`, JSON.stringify(meta), { mode: 0o600 });
    renameSync(`${base}.json.tmp`, `${base}.json`);
    return meta;
  }

  read(seq: number): Buffer {
    return readFileSync(`${join(this.dir, name(seq))}.${this.#extension}`);
  }

  /** Forgets a stored piece. */
  remove(seq: number): void {
    const base = join(this.dir, name(seq));
    rmSync(`${base}.json`, { force: true });
    rmSync(`${base}.${this.#extension}`, { force: true });
  }

  /**
   * Complete pieces on disk, in seq order. A metadata file it cannot read throws, naming the file: it stands for a
   * piece of an earlier run that a new run must not write over, and a human has to look at it.
   */
  list(): SpooledPiece[] {
    const pieces: SpooledPiece[] = [];
    for (const file of readdirSync(this.dir)) {
      if (!/^\d{10}\.json$/.test(file)) continue;
      const path = join(this.dir, file);
      try {
        pieces.push(SpooledPiece.parse(JSON.parse(readFileSync(path, 'utf8'))));
      } catch (error) {
        throw new Error(`cannot read the spooled piece metadata ${path}: ${(error as Error).message}`);
      }
    }
    return pieces.sort((a, b) => a.seq - b.seq);
  }

  /** Removes the directory if nothing is left in it. */
  removeIfEmpty(): boolean {
    if (readdirSync(this.dir).some((file) => !file.endsWith('.tmp'))) return false;
    rmSync(this.dir, { recursive: true, force: true });
    return true;
  }
}

/** Events that came before the session clock's origin, past what memory holds (EventSpool.holdEarly). */
const EARLY_FILE = 'early.jsonl';

/** What the event spool keeps in memory about a batch. */
export interface SpooledBatch {
  batch: number;
  events: number;
  size: number;
}

/**
 * Activity batches waiting for the server, in `<session spool>/events/<batch>.json`: the exact body to POST
 * (a retry must send the same bytes, or the server sees a conflict). Created on the first batch.
 */
export class EventSpool {
  readonly dir: string;

  constructor(sessionDir: string) {
    this.dir = join(sessionDir, 'events');
  }

  write(batch: number, body: string, events: number): SpooledBatch {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `${name(batch)}.json`);
    writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    return { batch, events, size: Buffer.byteLength(body) };
  }

  read(batch: number): Buffer {
    return readFileSync(join(this.dir, `${name(batch)}.json`));
  }

  remove(batch: number): void {
    rmSync(join(this.dir, `${name(batch)}.json`), { force: true });
  }

  /** Batch numbers on disk, in order. */
  list(): number[] {
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return [];
    }
    return files
      .filter((file) => /^\d{10}\.json$/.test(file))
      .map((file) => Number(file.slice(0, 10)))
      .sort((a, b) => a - b);
  }

  /** Where events captured before the session clock started wait, one JSON line each, past what memory holds. */
  get earlyFile(): string {
    return join(this.dir, EARLY_FILE);
  }

  /** Appends events that arrived before the session clock started (they wait for `takeEarly`). */
  holdEarly(events: readonly unknown[]): void {
    if (events.length === 0) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    appendFileSync(this.earlyFile, events.map((event) => `${JSON.stringify(event)}\n`).join(''), { mode: 0o600 });
  }

  /**
   * Hands every held event, in the order held, to `each`, a megabyte of the file at a time, then removes the file.
   * Nothing: no file.
   */
  takeEarly(each: (event: unknown) => void): void {
    let fd: number;
    try {
      fd = openSync(this.earlyFile, 'r');
    } catch {
      return;
    }
    try {
      const chunk = Buffer.alloc(1 << 20);
      let rest = '';
      for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
        const lines = (rest + chunk.toString('utf8', 0, read)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line) each(JSON.parse(line));
      }
      if (rest) each(JSON.parse(rest));
    } finally {
      closeSync(fd);
    }
    rmSync(this.earlyFile, { force: true });
  }

  /** Removes the directory if no batch is left in it. */
  removeIfEmpty(): boolean {
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return true;
    }
    if (files.some((file) => !file.endsWith('.tmp'))) return false;
    rmSync(this.dir, { recursive: true, force: true });
    return true;
  }
}
