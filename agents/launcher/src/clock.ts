/**
 * The session clock: milliseconds since the recording's first frame, the clock of the WebM timestamps.
 * ffmpeg shifts its output so that the first captured frame is at 0, and reports that frame's capture time
 * as the input's `start:` (x11grab stamps frames with the wall clock, in seconds since the epoch). So the
 * origin is that start time, not the moment ffmpeg was spawned (about a second earlier: its start-up).
 */

/** The `start:` seconds of ffmpeg's input dump (`  Duration: N/A, start: 1795817979.689186, bitrate: ...`). */
export function parseInputStart(line: string): number | null {
  const match = /^\s*Duration: .*, start: (-?\d+(?:\.\d+)?),/.exec(line);
  return match ? Number(match[1]) : null;
}

/** A start time further than this from now is on another clock. */
const PLAUSIBLE_MS = 10 * 60_000;

/**
 * The epoch ms of the first frame from the input's start time, when it is on the wall clock (x11grab,
 * gdigrab) or the monotonic clock (some capture devices); null when it is neither (lavfi starts at 0).
 */
export function firstFrameAt(
  startSeconds: number,
  now = Date.now(),
  monotonicMs = Number(process.hrtime.bigint() / 1_000_000n),
): number | null {
  const startMs = startSeconds * 1000;
  if (Math.abs(now - startMs) < PLAUSIBLE_MS) return Math.round(startMs);
  if (startMs > 0 && Math.abs(monotonicMs - startMs) < PLAUSIBLE_MS) return Math.round(now - (monotonicMs - startMs));
  return null;
}

/** Moves epoch ms onto the session clock (never below 0: the first frame is the clock's start). */
export function sessionMs(epochMs: number, origin: number): number {
  return Math.max(0, Math.round(epochMs - origin));
}
