/**
 * The activity capture layer: what every platform's capture reports, and how the session drives it.
 * A capture stamps its events with the wall clock (epoch ms, `Date.now()`); the ActivityLog moves them
 * onto the session clock once it knows when the recording's first frame was taken.
 */
import type { ActivityEvent } from '../../../../protocol/activity.ts';
import type { CaptureStatus } from '../../../../protocol/control.ts';

/** An activity event whose times (atMs, endMs, startedAtMs) are still epoch ms. */
export type CapturedEvent = ActivityEvent;
export type CapturedKeys = Extract<CapturedEvent, { type: 'keys' }>;

export interface CaptureSink {
  /** An event for the session's activity log. */
  event(event: CapturedEvent): void;
  /** The user pressed a key, clicked or moved the pointer (feeds the control socket's `activity`). */
  input(): void;
  /** How the capture runs, for the session's record: at the start, on a change, and at the stop (final counts). */
  status(status: CaptureStatus): void;
}

export interface CaptureStart {
  sink: CaptureSink;
  /** Record events (off when the policy turns recording off: then only `input` is reported). */
  events: boolean;
  /** Record keystrokes (the policy's `keystrokesEnabled`). */
  keystrokes: boolean;
  /** The session's id: processes whose environment carries it as WITNESS_SESSION belong to the session. */
  session: string;
}

/** The variable the launcher sets in the recorded program's environment (inherited by what it starts). */
export const SESSION_MARKER = 'WITNESS_SESSION';

/**
 * One platform's capture. Opened before the control socket says hello (so `reportsActivity` is known),
 * started once the policy is known, stopped when the session ends.
 */
export interface ActivityCapture {
  /** Whether it sees user input (then the session reports `activity` from it). */
  readonly seesInput: boolean;
  start(options: CaptureStart): Promise<void>;
  /** The recorded program runs as `pid`: its descendants are reported whoever they run as. */
  programStarted(pid: number): void;
  /** Stops; first reports what it still holds (the open keystroke run, processes that ended). */
  stop(): Promise<void>;
}
