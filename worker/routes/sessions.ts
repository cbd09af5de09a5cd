/** `/api/v1/sessions`: list, inspect, watch live and terminate (recordings: recordings.ts). */
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import type { LiveState } from '../../durable/api.ts';
import { SEARCH_IN } from '../../protocol/activity.ts';
import { SessionStatus } from '../../protocol/session.ts';
import { sessions } from '../../schema/index.ts';
import { activityPartitions } from '../../server/activity/partitions.ts';
import { searchSessions } from '../activity/search/sessions.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { ApiError } from '../errors.ts';
import { hasLiveState, isMediaDeleted, isOngoing, phaseOf } from '../../protocol/lifecycle.ts';
import { addCounts, type RedactionCounts } from '../../protocol/redaction.ts';
import { admitUpgrade, objectHeaders, relayFor } from '../socket-relay.ts';
import { sessionObject } from '../stubs.ts';
import { validate } from '../validate.ts';
import { requireSession, requireUpgrade, SessionIdParam } from './params.ts';
import { RECORDING_FILE } from './recordings.ts';
import { retentionView } from './retention.ts';
import { findJob, jobsFor } from '../../server/processing/jobs.ts';
import { processingView } from '../processing/view.ts';

type SearchIn = keyof typeof SEARCH_IN;
const SearchIn = z.enum(Object.keys(SEARCH_IN) as [keyof typeof SEARCH_IN, ...Array<keyof typeof SEARCH_IN>]);

const ListQuery = z.strictObject({
  status: SessionStatus.optional(),
  /** Text searched in the sessions' activity (keystrokes, SSH client data, apps, processes, windows). */
  q: z.string().trim().min(1).max(200).optional(),
  /** Where `q` looks; every category by default. */
  in: z
    .string()
    .transform((v) => v.split(',').filter(Boolean))
    .pipe(z.array(SearchIn).min(1))
    .optional(),
  user: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(500).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** Opaque: the `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^\d{1,15}~[0-9a-f-]{36}$/, 'not a cursor from this API')
    .optional(),
});

const LiveQuery = z.strictObject({
  /** A random id the watching browser tab keeps across its reconnects (so a reconnect replaces, not adds). */
  tab: z
    .string()
    .regex(/^[A-Za-z0-9-]{8,64}$/, 'a tab id is 8–64 letters, digits or dashes')
    .optional(),
});

const TerminateBody = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('message'), message: z.string().trim().min(1).max(1000) }),
  z.strictObject({ mode: z.literal('terminate'), message: z.string().trim().max(1000).default('') }),
]);

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The API's view of a session; `live` adds what only its Durable Object knows. */
function sessionView(row: SessionRow, live: LiveState | null = null) {
  const status = live?.status ?? row.status;
  const recordingStatus = live?.recordingStatus ?? row.recordingStatus;
  const ongoing = isOngoing(phaseOf({ status, recordingStatus }));
  return {
    id: row.id,
    user: row.user,
    target: row.target,
    protocol: row.protocol,
    format: row.format,
    status,
    endReason: live?.endReason ?? row.endReason,
    createdAt: iso(row.createdAt),
    startedAt: iso(row.startedAt),
    endedAt: iso(row.endedAt),
    durationMs: row.durationMs ?? (row.startedAt !== null && ongoing ? Date.now() - row.startedAt : null),
    // Sessions from before recording levels were recorded at the advanced level.
    policy: { ...row.policy, recordingLevel: row.recordingLevel },
    /** Basic (screen only) or advanced (plus keystrokes, processes, windows), resolved by target at launch. */
    recordingLevel: row.recordingLevel,
    /** The storage location (server/storage.ts) its media is saved in. */
    storage: row.storage,
    /** Where the policy came from, and who launched the session under it. */
    policySource: { kind: row.policySource, changes: row.policyChanges, launchedBy: row.launchedBy },
    /** `agent`: recorded by witness-agent on its host, not launched; `agentLogin` is the login it found. */
    origin: row.origin,
    agentLogin: row.agentLogin ?? null,
    /** Where it was recorded from: the launcher's host, the SSH client, the address the socket came from. */
    endpoints: row.endpoints ?? null,
    /** How the launcher captured activity: processes by `netlink` (every one) or `poll` (short ones may be missed). */
    capture: row.capture ?? null,
    /** Archived, deleted (with the day) or held: what retention did (docs/retention.md). */
    retention: retentionView(row),
    recording: {
      status: recordingStatus,
      pieces: live?.pieces ?? row.pieces,
      bytes: live?.bytes ?? row.bytes,
      missingPieces: live?.missingPieces ?? row.missingPieces ?? [],
      recordingBytes: row.recordingBytes,
      mediaDurationMs: row.mediaDurationMs,
      error: row.recordingError,
      url:
        recordingStatus === 'ready' && !isMediaDeleted(phaseOf(row))
          ? `/api/v1/sessions/${row.id}/${RECORDING_FILE[row.format]}`
          : null,
    },
    live: live && ongoing ? { launcherConnected: live.launcherConnected, viewers: live.viewers } : null,
  };
}

/** How many secrets of each kind the session's stored activity shows as replaced (protocol/redaction.ts). */
function sessionRedactions(db: D1Database, sessionId: string): Promise<RedactionCounts> {
  return sumRedactions(db, 'activity_batches', sessionId);
}

/** The counts of a table's rows for the session (activity batches, or a terminal recording's pieces). */
async function sumRedactions(
  db: D1Database,
  table: 'activity_batches' | 'recording_redactions',
  sessionId: string,
): Promise<RedactionCounts> {
  const { results } = await db
    .prepare(`SELECT redactions FROM ${table} WHERE session_id = ?1 AND redactions != '{}'`)
    .bind(sessionId)
    .all<{ redactions: string }>();
  const total: RedactionCounts = {};
  for (const row of results) addCounts(total, JSON.parse(row.redactions) as RedactionCounts);
  return total;
}

/**
 * Sessions whose activity matches `text`, newest first, each with its newest matches. The other filters
 * (`where`) apply too. Pages of `limit` sessions; `cursor` is the previous page's `nextCursor`.
 */
async function searchPage(
  env: Env,
  text: string,
  within: SearchIn[] | undefined,
  where: SQL[],
  limit: number,
  from: string | undefined,
  to: string | undefined,
  cursor: string | undefined,
) {
  const db = database(env.DB);
  const accept = async (ids: string[]) => {
    const kept = new Set<string>();
    for (let i = 0; i < ids.length; i += 90) {
      const rows = await db
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(inArray(sessions.id, ids.slice(i, i + 90)), ...where))
        .all();
      for (const row of rows) kept.add(row.id);
    }
    return kept;
  };
  const { sessions: matches, nextCursor } = await searchSessions(
    activityPartitions(env).covering(from ? Date.parse(from) : null, to ? Date.parse(to) : null),
    text,
    within ?? (Object.keys(SEARCH_IN) as SearchIn[]),
    { perSession: 5, maxSessions: limit, accept, cursor },
  );
  const ids = [...matches.keys()];
  const rows = new Map<string, SessionRow>();
  for (let i = 0; i < ids.length; i += 90) {
    for (const row of await db
      .select()
      .from(sessions)
      .where(inArray(sessions.id, ids.slice(i, i + 90)))
      .all()) {
      rows.set(row.id, row);
    }
  }
  const jobs = await jobsFor(db, ids);
  return {
    sessions: ids.flatMap((id) => {
      const row = rows.get(id);
      if (!row) return [];
      const found = (matches.get(id) ?? []).map(({ type, offsetMs, snippet }) => ({ type, offsetMs, snippet }));
      return [{ ...sessionView(row), processing: processingView(jobs.get(id)), matches: found }];
    }),
    nextCursor,
  };
}

export const sessionRoutes = new Hono<ApiEnv>()
  .get('/', requirePermission('sessions:monitor'), validate('query', ListQuery), async (c) => {
    const q = c.req.valid('query');
    const where: SQL[] = [];
    if (q.status) where.push(eq(sessions.status, q.status));
    if (q.user) where.push(eq(sessions.user, q.user));
    if (q.target) where.push(eq(sessions.target, q.target));
    if (q.from) where.push(gte(sessions.createdAt, Date.parse(q.from)));
    if (q.to) where.push(lte(sessions.createdAt, Date.parse(q.to)));
    if (q.q) {
      const page = await searchPage(c.env, q.q, q.in, where, q.limit, q.from, q.to, q.cursor);
      // Who searched for what, across sessions: every search, with its query and what it was limited to.
      await audit(c, {
        action: 'sessions.searched',
        details: {
          q: q.q,
          in: q.in ?? null,
          from: q.from ?? null,
          to: q.to ?? null,
          page: q.cursor ? 'next' : 'first',
        },
      });
      return c.json(page);
    }
    if (q.cursor) {
      const [at, id] = q.cursor.split('~') as [string, string];
      // Rows before (createdAt, id). The leading `createdAt <=` bounds an index range; written only as
      // `a < x OR (a = x AND b < y)`, SQLite may sort every row before the cursor instead.
      where.push(lte(sessions.createdAt, Number(at)));
      const before = or(lt(sessions.createdAt, Number(at)), lt(sessions.id, id));
      if (before) where.push(before);
    }
    const rows = await database(c.env.DB)
      .select()
      .from(sessions)
      .where(and(...where))
      .orderBy(desc(sessions.createdAt), desc(sessions.id))
      .limit(q.limit + 1)
      .all();
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    // Each recording's MP4 status beside it (protocol/lifecycle.ts `ProcessingStatus`).
    const jobs = await jobsFor(
      database(c.env.DB),
      page.map((row) => row.id),
    );
    return c.json({
      sessions: page.map((row) => ({ ...sessionView(row), processing: processingView(jobs.get(row.id)) })),
      nextCursor: rows.length > q.limit && last ? `${last.createdAt}~${last.id}` : null,
    });
  })
  // Whoever may watch a session, live or recorded, may see what it is (its format picks the player).
  .get(
    '/:id',
    requirePermission('sessions:monitor', 'sessions:watch-live', 'recordings:view'),
    validate('param', SessionIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await requireSession(c.env, id);
      const live = hasLiveState(phaseOf(row)) ? await sessionObject(c.env, id).liveState() : null;
      const redactions = await sessionRedactions(activityPartitions(c.env).forSession(row.createdAt), id);
      const recordingRedactions = await sumRedactions(c.env.DB, 'recording_redactions', id);
      const processing = processingView(await findJob(database(c.env.DB), id));
      return c.json({ ...sessionView(row, live), processing, redactions, recordingRedactions });
    },
  )
  .post(
    '/:id/terminate',
    requirePermission('sessions:terminate'),
    validate('param', SessionIdParam),
    validate('json', TerminateBody),
    async (c) => {
      const { id } = c.req.valid('param');
      await requireSession(c.env, id);
      const command = c.req.valid('json');
      const outcome = await sessionObject(c.env, id).terminate(command);
      if (outcome.kind === 'refused') throw new ApiError(outcome.status, outcome.code, outcome.message);
      await audit(c, {
        action: command.mode === 'terminate' ? 'session.terminated' : 'session.messaged',
        target: { type: 'session', id },
        details: { message: command.message, delivered: outcome.delivered },
      });
      return c.json({ delivered: outcome.delivered, status: outcome.status, endReason: outcome.endReason });
    },
  )
  .get(
    '/:id/live',
    requirePermission('sessions:watch-live'),
    validate('param', SessionIdParam),
    validate('query', LiveQuery),
    async (c) => {
      requireUpgrade(c.req.raw);
      const { id } = c.req.valid('param');
      const { tab } = c.req.valid('query');
      const principal = c.get('principal');
      const viewerKey = `${principal.kind}:${principal.id}`;
      await admitUpgrade(c.env.SOCKET_LIMITER, `viewer:${id}:${viewerKey}`);
      await requireSession(c.env, id);
      const headers = objectHeaders(c.req.raw.headers, {
        'x-witness-socket': 'viewer',
        'x-witness-principal': viewerKey,
        'x-witness-viewer': JSON.stringify({
          id: crypto.randomUUID(),
          name: principal.name,
          since: new Date().toISOString(),
        }),
        // A tab is only ever replaced by its own principal: the key is theirs and the tab's together.
        ...(tab && { 'x-witness-viewer-tab': `${principal.id}/${tab}` }),
      });
      const upgraded = await sessionObject(c.env, id).fetch(new Request(c.req.raw, { headers }));
      if (upgraded.status !== 101) return new Response(upgraded.body, upgraded);
      await audit(c, { action: 'session.watched_live', target: { type: 'session', id } });
      // The Worker holds the socket and counts what the viewer sends. Its Response is a fresh one: the object's
      // has immutable headers, and the security-headers middleware adds to them.
      const actor = { kind: principal.kind, id: principal.id, name: principal.name };
      return relayFor(c, upgraded, 'viewer', id, actor, () =>
        sessionObject(c.env, id).socketFlooded('viewer', viewerKey),
      );
    },
  );
