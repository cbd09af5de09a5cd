/**
 * Turns a batch's raw events into rows: each event is validated on its own, so one bad event is refused
 * alone (with its index and reason) and the rest are kept.
 */
import { ActivityEvent, REDACTED } from '../../protocol/activity.ts';
import {
  addCounts,
  type CustomPattern,
  countMarkers,
  type RedactionCounts,
  redactEvent,
} from '../../protocol/redaction.ts';
import type { RecordingLevel } from '../../protocol/session.ts';
import type { activity } from '../../schema/index.ts';
import { describeIssues } from '../validate.ts';

export type ActivityRow = typeof activity.$inferInsert;

export interface EventContext {
  sessionId: string;
  batch: number;
  keystrokesEnabled: boolean;
  /** Basic sessions record the screen only: keystroke, process and window events are refused (absent: advanced). */
  recordingLevel?: RecordingLevel;
  /** Latest session-clock time an event may carry (now − start, plus slack). */
  latestMs: number;
  /** The administrator's redaction patterns, applied with the built-in ones (protocol/redaction.ts). */
  customPatterns: readonly CustomPattern[];
}

export interface CheckedBatch {
  rows: ActivityRow[];
  rejected: Array<{ index: number; reason: string }>;
  /** Secrets the stored rows show as replaced, by the client or here. */
  redactions: RedactionCounts;
}

export function checkEvents(raw: readonly unknown[], context: EventContext): CheckedBatch {
  const rows: ActivityRow[] = [];
  const rejected: CheckedBatch['rejected'] = [];
  const redactions: RedactionCounts = {};
  for (const [index, candidate] of raw.entries()) {
    const reason = refusal(candidate, context);
    if (typeof reason === 'string') {
      rejected.push({ index, reason });
      continue;
    }
    // The second line: a client that redacted nothing (an older one) leaves no secret stored all the same.
    const row = toRow(redactEvent(reason, context.customPatterns).event, context, index);
    for (const text of [row.text, row.title, row.path]) if (text) addCounts(redactions, countMarkers(text));
    rows.push(row);
  }
  return { rows, rejected, redactions };
}

/** Events that carry what the user typed: refused when the session's policy turns keystroke recording off. */
const TYPED = new Set<ActivityEvent['type']>(['keys', 'ssh.input', 'ssh.command']);

/** What only advanced recording captures on a desktop: refused from a basic session (the launcher sends none). */
const ADVANCED = new Set<ActivityEvent['type']>(['keys', 'process.start', 'process.stop', 'window.focus']);

/** Why an event is refused, or the event itself when it is fine. */
function refusal(candidate: unknown, context: EventContext): string | ActivityEvent {
  const parsed = ActivityEvent.safeParse(candidate);
  if (!parsed.success) return describeIssues(parsed.error.issues);
  const event = parsed.data;
  if (event.atMs > context.latestMs) return `atMs ${event.atMs} is after the session's clock allows`;
  if ('endMs' in event && event.endMs < event.atMs) return 'endMs is before atMs';
  if (ADVANCED.has(event.type) && context.recordingLevel === 'basic') {
    return 'this session is recorded at the basic level (screen only)';
  }
  if (TYPED.has(event.type) && !context.keystrokesEnabled) {
    return 'keystroke recording is off for this session';
  }
  // What was typed into a password prompt is never stored: a run flagged redacted that still carries text is a
  // launcher's fault, refused (and reported in the acknowledgement) rather than kept or quietly rewritten.
  if ('redacted' in event && event.redacted && event.text !== REDACTED) {
    return `a redacted run's text must be ${REDACTED}`;
  }
  return event;
}

function toRow(event: ActivityEvent, context: EventContext, idx: number): ActivityRow {
  const base = { sessionId: context.sessionId, batch: context.batch, idx, type: event.type, atMs: event.atMs };
  switch (event.type) {
    case 'keys':
      return {
        ...base,
        endMs: event.endMs,
        text: event.text,
        app: event.window?.app ?? null,
        title: event.window?.title ?? null,
        redacted: event.redacted ?? false,
      };
    case 'ssh.input':
      return { ...base, endMs: event.endMs, text: event.text, redacted: event.redacted ?? false };
    case 'process.start':
      return {
        ...base,
        text: event.commandLine,
        name: event.name,
        path: event.path,
        user: event.user,
        pid: event.pid,
        ppid: event.ppid ?? null,
      };
    case 'process.stop':
      return { ...base, endMs: null, name: event.name, path: event.path, user: event.user, pid: event.pid };
    case 'window.focus':
      return { ...base, title: event.title, app: event.app, pid: event.pid ?? null };
    case 'ssh.command':
    case 'agent.tamper':
      return { ...base, text: event.text };
    case 'file.transfer':
      return {
        ...base,
        endMs: event.endMs,
        path: event.path,
        name: event.path.split('/').at(-1) || event.path,
        app: event.protocol,
        title: event.direction,
        size: event.size,
      };
  }
}
