/**
 * How often the launcher's `activity` messages are saved. Each moves the inactivity deadline, and saving it is a
 * storage write; the record in memory always has the newest, and whatever saves it next (a piece, an alarm) saves
 * that too. So a burst of `activity` costs one write, not one per message.
 */

/** Below the launcher's own spacing (one per 10 s at most), so a well-behaved launcher's every message is saved. */
export const ACTIVITY_SAVE_EVERY_MS = 5_000;

export class ActivitySaves {
  #savedAt = Number.NEGATIVE_INFINITY;

  /** Whether activity seen at `now` should be saved now; if so, counts it as saved. */
  due(now: number): boolean {
    if (now - this.#savedAt < ACTIVITY_SAVE_EVERY_MS) return false;
    this.#savedAt = now;
    return true;
  }
}
