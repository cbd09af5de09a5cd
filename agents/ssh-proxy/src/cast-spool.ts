/**
 * The launcher's spool layout (`<seq>.cast`, then `<seq>.json` last: a piece exists once it has one) with
 * less work per piece for a proxy that records at ~100 MB/s: the bytes are written once, not to a temporary
 * name and renamed (the metadata, written after them through a rename, already marks a piece complete), and
 * the upload sends the bytes just written from memory instead of reading the file back. The file stays until
 * the server has acknowledged the piece, so that a crash or a lost server never loses it.
 */
import { hash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spool, type SpooledPiece } from '../../launcher/src/spool.ts';
import type { MediaPiece } from '../../launcher/src/webm-splitter.ts';

/** Pieces kept in memory for their upload, per session, at most; beyond that they are read back from disk. */
export const HELD_BYTES = 4 * 1024 * 1024;

export class CastSpool extends Spool {
  readonly #held = new Map<number, Buffer>();
  readonly #heldLimit: number;
  #heldBytes = 0;

  constructor(dir: string, heldLimit = HELD_BYTES) {
    super(dir, 'cast');
    this.#heldLimit = heldLimit;
  }

  override write(piece: MediaPiece): SpooledPiece {
    const bytes = Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength);
    const meta: SpooledPiece = {
      seq: piece.seq,
      size: bytes.byteLength,
      sha256: hash('sha256', bytes, 'hex'),
      keyframe: piece.keyframe,
      startMs: piece.startMs,
      endMs: piece.endMs,
    };
    const base = join(this.dir, String(piece.seq).padStart(10, '0'));
    writeFileSync(`${base}.cast`, bytes, { mode: 0o600 });
    writeFileSync(`${base}.json.tmp`, JSON.stringify(meta), { mode: 0o600 });
    renameSync(`${base}.json.tmp`, `${base}.json`);
    // Counted by the memory behind the bytes, which is what keeping them keeps.
    const size = bytes.buffer.byteLength;
    if (this.#heldBytes + size <= this.#heldLimit) {
      this.#held.set(piece.seq, bytes);
      this.#heldBytes += size;
    }
    return meta;
  }

  override read(seq: number): Buffer {
    return this.#held.get(seq) ?? super.read(seq);
  }

  override remove(seq: number): void {
    super.remove(seq);
    const bytes = this.#held.get(seq);
    if (bytes === undefined) return;
    this.#held.delete(seq);
    this.#heldBytes -= bytes.buffer.byteLength;
  }

  /** Pieces whose bytes are in memory, for tests. */
  get held(): number[] {
    return [...this.#held.keys()];
  }
}
