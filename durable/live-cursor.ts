/**
 * Which stored pieces a live viewer gets next. Pieces can arrive out of order; a viewer gets them strictly in
 * sequence. A hole that stays open while several later pieces wait is skipped to the next keyframe, so one
 * lost piece cannot freeze live view (the recording itself still waits for it until sealing).
 */

export interface StoredPiece {
  seq: number;
  keyframe: boolean;
}

/** Pieces that may wait behind a hole before live viewers skip it. */
export const LIVE_HOLE_TOLERANCE = 5;

export interface LivePlan {
  /** Pieces the viewer will never get live, as an inclusive range. */
  gap: [number, number] | null;
  /** Sequence numbers to send, in order. */
  send: number[];
  /** The viewer's position after sending. */
  sentUpTo: number;
}

/** Plans the next sends for a viewer that has everything up to `sentUpTo`; `above` is sorted by seq. */
export function planLiveSends(sentUpTo: number, above: readonly StoredPiece[]): LivePlan {
  const pending = above.filter((p) => p.seq > sentUpTo);
  const send: number[] = [];
  let position = sentUpTo;
  let gap: [number, number] | null = null;
  let i = 0;
  while (i < pending.length) {
    const piece = pending[i] as StoredPiece;
    if (piece.seq === position + 1) {
      send.push(piece.seq);
      position = piece.seq;
      i++;
      continue;
    }
    if (pending.length - i < LIVE_HOLE_TOLERANCE) break;
    const resume = pending.slice(i).find((p) => p.keyframe);
    if (!resume) break;
    gap = [position + 1, resume.seq - 1];
    position = resume.seq - 1;
    i = pending.indexOf(resume);
  }
  return { gap, send, sentUpTo: position };
}

/**
 * Where a viewer joining now starts: the init segment, then the last run that begins with a keyframe and
 * continues without a hole to the newest piece it can reach. With `from: 'start'` (a terminal, whose screen
 * is the sum of everything printed) the run begins at the first piece after the init segment instead.
 */
export function planCatchUp(
  stored: readonly StoredPiece[],
  from: 'keyframe' | 'start' = 'keyframe',
): { send: number[]; sentUpTo: number } {
  const hasInit = stored[0]?.seq === 0;
  if (!hasInit) return { send: [], sentUpTo: -1 };
  const clusters = stored.slice(1);
  let start = from === 'start' && clusters.length > 0 ? 0 : -1;
  for (let i = clusters.length - 1; i >= 0 && start < 0; i--) {
    if ((clusters[i] as StoredPiece).keyframe) start = i;
  }
  if (start < 0) return { send: [0], sentUpTo: 0 };
  const send = [0];
  let position = (clusters[start] as StoredPiece).seq - 1;
  for (let i = start; i < clusters.length && (clusters[i] as StoredPiece).seq === position + 1; i++) {
    position = (clusters[i] as StoredPiece).seq;
    send.push(position);
  }
  return { send, sentUpTo: position };
}

/** How much of a terminal's history a joining viewer is sent at most (the recording keeps all of it). */
export const TERMINAL_HISTORY_BYTES = 4 * 1024 * 1024;

/**
 * Bounds a terminal catch-up (`planCatchUp(…, 'start')`) to the newest `budget` bytes after the header, so a
 * session that printed gigabytes cannot make one viewer's join hold them all. Returns what to send and the
 * pieces left out, if any, as an inclusive range.
 */
export function trimHistory(
  send: readonly number[],
  sizeOf: (seq: number) => number,
  budget = TERMINAL_HISTORY_BYTES,
): { send: number[]; skipped: [number, number] | null } {
  const [header, ...rest] = send;
  if (header === undefined) return { send: [], skipped: null };
  let first = rest.length;
  for (let used = 0; first > 0; first--) {
    used += sizeOf(rest[first - 1] as number);
    if (used > budget && first < rest.length) break;
  }
  const kept = rest.slice(first);
  const skipped: [number, number] | null = first > 0 ? [rest[0] as number, (kept[0] as number) - 1] : null;
  return { send: [header, ...kept], skipped };
}

/** An inclusive range of sequence numbers. */
export interface SeqRange {
  from: number;
  to: number;
}

/** Inclusive ranges of sequence numbers missing from 0..last in a sorted list. */
export function missingRanges(seqs: readonly number[], last: number): SeqRange[] {
  const ranges: SeqRange[] = [];
  let expected = 0;
  for (const seq of seqs) {
    if (seq > last) break;
    if (seq > expected) ranges.push({ from: expected, to: seq - 1 });
    expected = seq + 1;
  }
  if (expected <= last) ranges.push({ from: expected, to: last });
  return ranges;
}
