/**
 * Screen change, as the activity map draws it, and the quiet stretches "skip inactivity" jumps over: no
 * keystrokes, processes or window changes, and no more screen change than a still screen makes.
 *
 * The screen figure is media bytes, and a still screen is not free: every keyframe (one per ~30 s) re-encodes
 * it. So a bucket counts as still when its bytes are near the quietest level, and a short burst between still
 * buckets counts as still too when it matches the previous burst within a quarter (an unchanged screen
 * re-encodes to about the same size; a new dialog does not). Anything else stops the skip.
 */
import type { DensityBucket } from '../activity.ts';

export interface IdleStretch {
  fromMs: number;
  toMs: number;
}

/** Stretches shorter than this are played: a skip that short only makes the picture jump. */
export const MIN_IDLE_MS = 3000;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Encoder noise on a still screen, on top of the quietest level. */
const STILL_HEADROOM_BYTES_PER_S = 2048;
/** A keyframe's piece lasts about this long (pieces are cut about once a second). */
const KEYFRAME_PIECE_MS = 1500;
/** A piece longer than this is taken to be a gap in the media, not one long piece. */
const MAX_PIECE_MS = 10_000;

/**
 * Screen change per bucket, spread over time. The API counts a piece's bytes in the bucket where the piece
 * starts; a piece lasts until the next one starts (~1 s), so with buckets shorter than that the bytes are
 * spread evenly over the buckets up to the next piece (and never further than MAX_PIECE_MS).
 */
function spreadScreenBytes(buckets: readonly DensityBucket[], bucketMs: number): number[] {
  const maxSpan = Math.max(1, Math.floor(MAX_PIECE_MS / bucketMs));
  const starts: number[] = [];
  for (const [i, b] of buckets.entries()) if (b.screenBytes > 0) starts.push(i);
  const spans = starts.slice(1).map((start, k) => Math.min(maxSpan, start - (starts[k] as number)));
  // The last piece has no successor to end it: it gets the usual length.
  const usual = spans.length ? ([...spans].sort((a, b) => a - b)[spans.length >> 1] as number) : 1;
  spans.push(usual);
  const spread = buckets.map(() => 0);
  starts.forEach((start, k) => {
    const end = Math.min(buckets.length, start + (spans[k] as number));
    const share = (buckets[start] as DensityBucket).screenBytes / (end - start);
    for (let j = start; j < end; j++) spread[j] = share;
  });
  return spread;
}

/**
 * Media bytes a still screen makes per bucket: a low quantile of the buckets, but never more than the
 * encoder noise allowance, so a screen that changes all the time is never taken for a still one.
 */
function screenFloor(screen: readonly number[], bucketMs: number): number {
  const quiet = quantile(
    [...screen].sort((a, b) => a - b),
    0.2,
  );
  return Math.min(quiet, stillHeadroom(bucketMs));
}

function stillHeadroom(bucketMs: number): number {
  return (STILL_HEADROOM_BYTES_PER_S * bucketMs) / 1000;
}

/**
 * Screen change per bucket, in bytes above the still level; 0 where the screen is still. Recurring keyframe
 * bursts of the same size count as still (see the top of this file).
 */
export function screenChange(buckets: readonly DensityBucket[], bucketMs: number): number[] {
  const bytes = spreadScreenBytes(buckets, bucketMs);
  const floor = screenFloor(bytes, bucketMs);
  const limit = floor + stillHeadroom(bucketMs);
  const change = bytes.map((b) => (b > limit ? b - floor : 0));
  const burstMaxBuckets = Math.max(1, Math.ceil(KEYFRAME_PIECE_MS / bucketMs));
  let lastBurst: number | null = null;
  for (let i = 0; i < change.length; ) {
    if (change[i] === 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < change.length && change[end] !== 0) end++;
    if (end < change.length && end - i <= burstMaxBuckets) {
      const size = bytes.slice(i, end).reduce((sum, b) => sum + b, 0);
      // The opening piece (the first keyframe) is the screen appearing: shown, but the size to compare with.
      if (i > 0 && lastBurst !== null && Math.abs(size - lastBurst) <= lastBurst / 4) change.fill(0, i, end);
      lastBurst = size;
    }
    i = end;
  }
  return change;
}

/** Stretches of at least `minMs` with no input and a still screen, on the `durationMs` long media. */
export function idleStretches(
  buckets: readonly DensityBucket[],
  bucketMs: number,
  durationMs: number,
  minMs = MIN_IDLE_MS,
): IdleStretch[] {
  const inputFree = buckets.map((b) => b.keystrokes === 0 && b.processEvents === 0 && b.windowChanges === 0);
  const change = screenChange(buckets, bucketMs);
  const still = change.map((c) => c === 0);

  const stretches: IdleStretch[] = [];
  let start: number | null = null;
  for (let i = 0; i <= buckets.length; i++) {
    const quiet = i < buckets.length && inputFree[i] && still[i];
    if (quiet && start === null) start = i;
    if (!quiet && start !== null) {
      const fromMs = start * bucketMs;
      const toMs = Math.min(durationMs, i * bucketMs);
      if (toMs - fromMs >= minMs) stretches.push({ fromMs, toMs });
      start = null;
    }
  }
  return stretches;
}
