/**
 * `/api/v1/sessions/{id}/recording.webm` and `.../recording.cast`: a session's sealed recording, with HTTP Range
 * for players, inline or as a download.
 */
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { EXTENSION, PIECE_CONTENT_TYPE, recordingKey } from '../../protocol/ingest.ts';
import type { RecordingFormat } from '../../protocol/session.ts';
import { auditRead } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { ApiError } from '../errors.ts';
import { parseRange } from '../http-range.ts';
import { validate } from '../validate.ts';
import { getMedia, headMedia } from '../media-bucket.ts';
import { refuseDeletedMedia, requireSession, SessionIdParam } from './params.ts';

const DownloadQuery = z.strictObject({
  download: z
    .enum(['0', '1'])
    .optional()
    .transform((v) => v === '1'),
});

/** The sealed file of each format, as the API names it. */
export const RECORDING_FILE = { webm: 'recording.webm', asciicast: 'recording.cast' } as const satisfies Record<
  RecordingFormat,
  string
>;

/**
 * Serves a sealed recording with HTTP Range: WebM video for desktop sessions, an asciicast v2 `.cast` for SSH
 * sessions (plays in asciinema).
 */
async function serveRecording(c: Context<ApiEnv>, format: RecordingFormat, id: string, download: boolean) {
  const row = await requireSession(c.env, id);
  if (row.format !== format) {
    throw new ApiError(404, 'wrong_format', `This session's recording is ${RECORDING_FILE[row.format]}.`);
  }
  refuseDeletedMedia(row);
  if (row.recordingStatus !== 'ready') {
    throw new ApiError(409, 'recording_not_ready', `The recording is ${row.recordingStatus}, not ready to play.`);
  }
  const key = recordingKey(id, format);
  // Archived recordings are read from the archive bucket (worker/media-bucket.ts).
  const found = await headMedia(c.env, row, key);
  if (!found) throw new ApiError(404, 'recording_missing', 'The recording is not in storage.');
  const { head } = found;
  const headers = new Headers({
    'content-type': PIECE_CONTENT_TYPE[format],
    'accept-ranges': 'bytes',
    etag: head.httpEtag,
    'cache-control': 'private, max-age=3600',
    'content-disposition': `${download ? 'attachment' : 'inline'}; filename="witness-${id}.${EXTENSION[format]}"`,
  });
  const range = parseRange(c.req.header('range'), head.size);
  if (range.kind === 'unsatisfiable') {
    return c.json({ error: { code: 'range_not_satisfiable', message: 'The range is outside the file.' } }, 416, {
      'content-range': `bytes */${head.size}`,
    });
  }
  if (range.kind === 'range') {
    headers.set('content-range', `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
    headers.set('content-length', String(range.length));
  } else {
    headers.set('content-length', String(head.size));
  }
  const status = range.kind === 'range' ? 206 : 200;
  if (c.req.method === 'HEAD') return new Response(null, { status, headers });
  // Every read, whatever its Range: one audit row per viewer, session and hour, the rest counted beside it.
  await auditRead(c, {
    action: download ? 'recording.downloaded' : 'recording.viewed',
    sessionId: id,
    kind: download ? 'recording-download' : 'recording',
    bytes: range.kind === 'range' ? range.length : head.size,
    range:
      range.kind === 'range'
        ? { from: range.offset, to: range.offset + range.length - 1 }
        : { from: 0, to: head.size - 1 },
    details: { user: row.user, target: row.target, format },
  });
  const object = await getMedia(c.env, row, key, range.kind === 'range' ? { range } : {});
  if (!object) throw new ApiError(404, 'recording_missing', 'The recording is not in storage.');
  return new Response(object.body, { status, headers });
}

// Guards sit on each route, not `.use()`: this app shares the /sessions prefix with others.
export const recordingRoutes = new Hono<ApiEnv>()
  .on(
    ['GET', 'HEAD'],
    '/:id/recording.webm',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', DownloadQuery),
    (c) => serveRecording(c, 'webm', c.req.valid('param').id, c.req.valid('query').download),
  )
  .on(
    ['GET', 'HEAD'],
    '/:id/recording.cast',
    requirePermission('recordings:view'),
    validate('param', SessionIdParam),
    validate('query', DownloadQuery),
    (c) => serveRecording(c, 'asciicast', c.req.valid('param').id, c.req.valid('query').download),
  );
