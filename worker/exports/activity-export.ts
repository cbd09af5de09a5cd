/**
 * A session's activity as a file for an auditor (`activity.csv`, `activity.json`): every event the activity
 * grid lists, oldest first, with its offset on the video's clock and its wall-clock time. Streamed a page of
 * events at a time, so a session of millions of events costs one page of memory.
 */
import { stringify } from 'csv-stringify/sync';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { sessionEvents } from '../activity/session-events.ts';
import { streamOf } from './stream.ts';
import { transcriptClock } from './transcript.ts';

/** Events read per query. */
const PAGE = 1000;

type EventView = Awaited<ReturnType<typeof sessionEvents>>['events'][number];

/** The CSV's columns, in order: the grid's time and type first, then every field an event may carry. */
export const CSV_COLUMNS = [
  'offsetMs',
  'time',
  'wallClock',
  'type',
  'text',
  'app',
  'title',
  'name',
  'path',
  'user',
  'pid',
  'ppid',
  'endMs',
  'size',
  'redacted',
  'id',
] as const;

/** An event with the times an auditor reads: the offset as the grid shows it, and when it happened. */
export function exportedEvent(event: EventView, startedAt: number | null) {
  return {
    ...event,
    time: transcriptClock(event.offsetMs),
    // The session clock's 0 is the recording's start (the first piece): the wall clock is that plus the offset.
    wallClock: startedAt === null ? null : new Date(startedAt + event.offsetMs).toISOString(),
  };
}

/** Pages of the session's events, in order, until the last. */
async function* eventPages(db: D1Database, sessionId: string): AsyncGenerator<EventView[]> {
  let cursor: string | undefined;
  for (;;) {
    const page = await sessionEvents(db, sessionId, { limit: PAGE, ...(cursor && { cursor }) });
    yield page.events;
    if (page.nextCursor === null) return;
    cursor = page.nextCursor;
  }
}

/**
 * CSV (RFC 4180, a header row): a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
 * prefixed with `'`, so a spreadsheet shows recorded text as text and never runs it as a formula.
 */
export function activityCsv(db: D1Database, session: SessionRow): ReadableStream<Uint8Array> {
  async function* chunks(): AsyncGenerator<string> {
    yield stringify([CSV_COLUMNS as unknown as string[]]);
    for await (const events of eventPages(db, session.id)) {
      if (events.length === 0) continue;
      const rows = events.map((event) => {
        const row: Record<string, unknown> = exportedEvent(event, session.startedAt);
        return CSV_COLUMNS.map((column) => row[column] ?? null);
      });
      yield stringify(rows, { escape_formulas: true, cast: { boolean: (value) => String(value) } });
    }
  }
  return streamOf(chunks());
}

/** JSON: `{session: {…}, events: [...]}`, each event as the activity API shows it, with `time` and `wallClock`. */
export function activityJson(db: D1Database, session: SessionRow): ReadableStream<Uint8Array> {
  async function* chunks(): AsyncGenerator<string> {
    const about = {
      id: session.id,
      user: session.user,
      target: session.target,
      startedAt: session.startedAt === null ? null : new Date(session.startedAt).toISOString(),
      endedAt: session.endedAt === null ? null : new Date(session.endedAt).toISOString(),
    };
    yield `{"session":${JSON.stringify(about)},"events":[`;
    let first = true;
    for await (const events of eventPages(db, session.id)) {
      if (events.length === 0) continue;
      const text = events.map((event) => JSON.stringify(exportedEvent(event, session.startedAt))).join(',\n');
      yield `${first ? '\n' : ',\n'}${text}`;
      first = false;
    }
    yield '\n]}\n';
  }
  return streamOf(chunks());
}
