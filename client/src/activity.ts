/**
 * A session's activity as the API lists it (docs/activity.md): events on the video's clock, and the activity
 * map's buckets. Everything here was recorded on the watched machine: it is shown as text, never as markup.
 */
import type { ActivityType } from '../../protocol/activity.ts';
import type { ActivityItem } from '../../protocol/activity-view.ts';

export type { ActivityItem, ActivityPage, Density, DensityBucket } from '../../protocol/activity-view.ts';

export const TYPE_LABELS: Record<ActivityType, string> = {
  keys: 'Keys',
  'process.start': 'Program started',
  'process.stop': 'Program ended',
  'window.focus': 'Window',
  'ssh.input': 'SSH input',
  'ssh.command': 'Command',
  'file.transfer': 'File transfer',
  'agent.tamper': 'Agent tampered with',
};

/** One line for the grid. */
export function summary(event: ActivityItem): string {
  switch (event.type) {
    case 'keys':
    case 'ssh.input':
      return event.text ?? '';
    case 'process.start':
      return event.text || event.path || event.name || '';
    case 'process.stop':
      return event.path || event.name || '';
    case 'window.focus':
      return event.app ? `${event.title ?? ''} — ${event.app}` : (event.title ?? '');
    case 'ssh.command':
      return event.text ?? '';
    case 'agent.tamper':
      return `⚠ ${event.text ?? ''}`;
    case 'file.transfer':
      return `${event.title === 'upload' ? '↑' : '↓'} ${event.path ?? ''} (${event.size ?? 0} bytes, ${event.app ?? ''})`;
  }
}

/**
 * Where the playhead is in `events` (in time order): the index of the last event at or before `ms`, or -1 when
 * `ms` is before the first. A binary search: the grid asks on every time update of a 200,000-event session.
 */
export function playheadIndex(events: readonly { offsetMs: number }[], ms: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((events[mid] as { offsetMs: number }).offsetMs <= ms) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/** How many events of each type `events` holds, in the order TYPE_LABELS lists the types; absent types left out. */
export function typeCounts(events: readonly ActivityItem[]): Array<{ type: ActivityType; count: number }> {
  const counts = new Map<ActivityType, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  return (Object.keys(TYPE_LABELS) as ActivityType[])
    .filter((type) => counts.has(type))
    .map((type) => ({ type, count: counts.get(type) as number }));
}

/** The name a program or window goes by in a summary: its program name, or the window's application and title. */
function itemName(event: ActivityItem): string | null {
  switch (event.type) {
    case 'process.start':
    case 'ssh.command':
      return event.name || event.text?.split(/\s+/)[0] || null;
    case 'window.focus':
      return event.app ? `${event.title ?? ''} (${event.app})` : event.title;
    default:
      return null;
  }
}

/** What happened in `[fromMs, toMs)`: events by type, and the programs and windows seen most often there. */
export interface BucketSummary {
  fromMs: number;
  toMs: number;
  total: number;
  counts: Array<{ type: ActivityType; count: number }>;
  /** The 3 programs (started, or SSH commands) and the 3 windows seen most often, most first. */
  topPrograms: Array<{ name: string; count: number }>;
  topWindows: Array<{ name: string; count: number }>;
}

function top(names: Map<string, number>): Array<{ name: string; count: number }> {
  return [...names]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
    .slice(0, 3);
}

/** The map tooltip's summary of the events (in time order) that start in `[fromMs, toMs)`. */
export function bucketSummary(events: readonly ActivityItem[], fromMs: number, toMs: number): BucketSummary {
  const first = playheadIndex(events, fromMs - 1) + 1;
  const end = playheadIndex(events, toMs - 1) + 1;
  const inBucket = events.slice(first, Math.max(first, end));
  const programs = new Map<string, number>();
  const windows = new Map<string, number>();
  for (const event of inBucket) {
    const name = itemName(event);
    if (!name) continue;
    const names = event.type === 'window.focus' ? windows : programs;
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return {
    fromMs,
    toMs,
    total: inBucket.length,
    counts: typeCounts(inBucket),
    topPrograms: top(programs),
    topWindows: top(windows),
  };
}

/** A started program and when it ended (the first `process.stop` of its pid after it; Infinity while running). */
interface ProgramSpan {
  offsetMs: number;
  start: ActivityItem;
  endMs: number;
}

/** `events` arranged for asking "what was going on at t" many times a second (see `atPlayhead`). */
export interface ActivityTimeline {
  windows: ActivityItem[];
  programs: ProgramSpan[];
  /** Keys, SSH input and SSH commands: what the user last typed or ran. */
  inputs: ActivityItem[];
}

/** Builds the timeline of `events` (in time order) once per change of the loaded events. */
export function activityTimeline(events: readonly ActivityItem[]): ActivityTimeline {
  const windows: ActivityItem[] = [];
  const programs: ProgramSpan[] = [];
  const inputs: ActivityItem[] = [];
  const running = new Map<number, ProgramSpan>();
  for (const event of events) {
    switch (event.type) {
      case 'window.focus':
        windows.push(event);
        break;
      case 'process.start': {
        const span = { offsetMs: event.offsetMs, start: event, endMs: Number.POSITIVE_INFINITY };
        programs.push(span);
        if (event.pid !== null) running.set(event.pid, span);
        break;
      }
      case 'process.stop': {
        const span = event.pid !== null ? running.get(event.pid) : undefined;
        if (span) {
          span.endMs = event.offsetMs;
          running.delete(event.pid as number);
        }
        break;
      }
      case 'keys':
      case 'ssh.input':
      case 'ssh.command':
        inputs.push(event);
        break;
    }
  }
  return { windows, programs, inputs };
}

/** What was going on at `ms`: the window in focus, the programs running (newest first), the last input. */
export interface AtPlayhead {
  window: ActivityItem | null;
  programs: ActivityItem[];
  input: ActivityItem | null;
}

/** The state of the session at `ms`, from its timeline: binary searches, and a walk over the programs started. */
export function atPlayhead(timeline: ActivityTimeline, ms: number): AtPlayhead {
  const programs: ActivityItem[] = [];
  for (let i = playheadIndex(timeline.programs, ms); i >= 0; i--) {
    const span = timeline.programs[i] as ProgramSpan;
    if (span.endMs > ms) programs.push(span.start);
  }
  return {
    window: timeline.windows[playheadIndex(timeline.windows, ms)] ?? null,
    programs,
    input: timeline.inputs[playheadIndex(timeline.inputs, ms)] ?? null,
  };
}
