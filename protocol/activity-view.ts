/**
 * A session's activity as the API serves it and the console reads it (docs/activity.md): stored events on the
 * video's clock, one page at a time, and the activity map's buckets.
 */
import type { ActivityType } from './activity.ts';

/** One stored event, as `GET /api/v1/sessions/{id}/activity` lists it and the manifest's activity digest covers it. */
export interface ActivityItem {
  id: number;
  type: ActivityType;
  offsetMs: number;
  endMs: number | null;
  /** Keystrokes, SSH input, or a started program's command line. */
  text: string | null;
  app: string | null;
  title: string | null;
  name: string | null;
  path: string | null;
  /** Bytes moved, for a file transfer (absent for every other type). */
  size?: number;
  user: string | null;
  pid: number | null;
  ppid: number | null;
  redacted: boolean | null;
}

export interface ActivityPage {
  events: ActivityItem[];
  nextCursor: string | null;
}

/** The activity map's data: per time bucket, screen change (media bytes), keystrokes and process events. */
export interface DensityBucket {
  startMs: number;
  /** Bytes of recorded media in the bucket: a proxy for how much the screen changed. */
  screenBytes: number;
  /** Characters typed (a keystroke run counts at its start), redacted runs excluded. */
  keystrokes: number;
  processEvents: number;
  windowChanges: number;
}

export interface Density {
  durationMs: number;
  bucketMs: number;
  buckets: DensityBucket[];
}
