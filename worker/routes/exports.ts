/**
 * What an auditor downloads of a session: `activity.csv` and `activity.json` (the activity grid's events with
 * their offsets and wall-clock times) and, for terminal sessions, `transcript.txt`. Each download is one audit
 * row, written before the file goes out.
 */
import { type Context, Hono } from 'hono';
import { recordingKey } from '../../protocol/ingest.ts';
import { activityPartitions } from '../../server/activity/partitions.ts';
import type { SessionRow } from '../../server/db/session-directory.ts';
import { audit } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { activityCsv, activityJson } from '../exports/activity-export.ts';
import { castToTranscript, transcriptClock } from '../exports/transcript.ts';
import { getMedia } from '../media-bucket.ts';
import { validate } from '../validate.ts';
import { requireRecordedSession, SessionIdParam } from './params.ts';

type ExportFormat = 'csv' | 'json' | 'transcript';

const FILE: Record<ExportFormat, { name: string; type: string }> = {
  csv: { name: 'activity.csv', type: 'text/csv; charset=utf-8' },
  json: { name: 'activity.json', type: 'application/json; charset=utf-8' },
  transcript: { name: 'transcript.txt', type: 'text/plain; charset=utf-8' },
};

/** One audit row per download, naming what was exported. */
async function audited(c: Context<ApiEnv>, row: SessionRow, format: ExportFormat): Promise<void> {
  await audit(c, {
    action: 'activity.exported',
    target: { type: 'session', id: row.id },
    details: { file: FILE[format].name, user: row.user, target: row.target },
  });
}

function download(body: ReadableStream<Uint8Array>, id: string, format: ExportFormat): Response {
  return new Response(body, {
    headers: {
      'content-type': FILE[format].type,
      'content-disposition': `attachment; filename="witness-${id}-${FILE[format].name}"`,
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}

/** The transcript's first lines: whose session it is and how to read its times. */
function transcriptHeading(row: SessionRow): string {
  const started = row.startedAt === null ? 'not started' : new Date(row.startedAt).toISOString();
  return (
    `Witness transcript of session ${row.id}: ${row.user} on ${row.target}, started ${started}.\n` +
    `Output as the terminal printed it, escape sequences removed; each entered line as ">>> [time] input: …", ` +
    `times on the session clock (${transcriptClock(0)} = the recording's start). Secrets show as <redacted…>.\n\n`
  );
}

// Guards sit on each route, not `.use()`: this app shares the /sessions prefix with others.
export const exportRoutes = new Hono<ApiEnv>()
  .get('/:id/activity.csv', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const row = await requireRecordedSession(c.env, c.req.valid('param').id);
    await audited(c, row, 'csv');
    return download(activityCsv(activityPartitions(c.env).forSession(row.createdAt), row), row.id, 'csv');
  })
  .get('/:id/activity.json', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const row = await requireRecordedSession(c.env, c.req.valid('param').id);
    await audited(c, row, 'json');
    return download(activityJson(activityPartitions(c.env).forSession(row.createdAt), row), row.id, 'json');
  })
  .get('/:id/transcript.txt', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const row = await requireRecordedSession(c.env, c.req.valid('param').id);
    if (row.format !== 'asciicast') {
      throw new ApiError(404, 'wrong_format', 'Only terminal sessions have a transcript; this one is a video.');
    }
    if (row.recordingStatus !== 'ready') {
      throw new ApiError(409, 'recording_not_ready', `The recording is ${row.recordingStatus}, not ready to read.`);
    }
    const object = await getMedia(c.env, row, recordingKey(row.id, 'asciicast'), {});
    if (!object) throw new ApiError(404, 'recording_missing', 'The recording is not in storage.');
    await audited(c, row, 'transcript');
    const text = object.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(castToTranscript(transcriptHeading(row)))
      .pipeThrough(new TextEncoderStream());
    return download(text, row.id, 'transcript');
  });
