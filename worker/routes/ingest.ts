/** `/ingest/v1`: what launchers talk to (docs/ingest-protocol.md). Only ingest tokens get in. */
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { ActivityBatch, MAX_BATCH_BYTES } from '../../protocol/activity.ts';
import { MAX_CAST_HEADER_BYTES, MAX_CAST_PIECE_BYTES } from '../../protocol/asciicast.ts';
import {
  IngestHeader,
  MAX_INIT_SEGMENT_BYTES,
  MAX_PIECE_BYTES,
  PIECE_CONTENT_TYPE,
  type PieceAck,
  PieceHeaders,
  pieceKey,
  SeqParam,
} from '../../protocol/ingest.ts';
import { hex } from '../../protocol/hex.ts';
import { acceptsRecording, phaseOf } from '../../protocol/lifecycle.ts';
import type { RecordingFormat } from '../../protocol/session.ts';
import { storeBatch } from '../activity/ingest.ts';
import { requireIngestToken } from '../auth/ingest-auth.ts';
import { database } from '../../server/db/index.ts';
import { clientAddress } from '../client-address.ts';
import { findSession } from '../../server/db/session-directory.ts';
import { storageBuckets } from '../../server/storage.ts';
import { ApiError } from '../errors.ts';
import { inspectPiece, type PieceDigest, readWholePiece, WHOLE_PIECE_BYTES } from '../ingest/piece-stream.ts';
import { readWholeBody } from '../ingest/whole-body.ts';
import { admitUpgrade, objectHeaders, relayFor } from '../socket-relay.ts';
import { sessionObject } from '../stubs.ts';
import { describeIssues, validate } from '../validate.ts';
import { requireUpgrade, SessionIdParam } from './params.ts';

export const ingest = new Hono<{ Bindings: Env }>()
  .use('/sessions/:id/*', requireIngestToken, async (c, next) => {
    const { success } = await c.env.INGEST_LIMITER.limit({ key: c.req.param('id') ?? '' });
    if (!success) throw new ApiError(429, 'rate_limited', 'Too many ingest requests for this session; slow down.');
    await next();
  })
  .get('/sessions/:id/control', validate('param', SessionIdParam), async (c) => {
    requireUpgrade(c.req.raw);
    const { id } = c.req.valid('param');
    await admitUpgrade(c.env.SOCKET_LIMITER, `launcher:${id}`);
    const headers = objectHeaders(c.req.raw.headers, {
      'x-witness-socket': 'launcher',
      'x-witness-peer-address': clientAddress(c) ?? '',
    });
    const upgraded = await sessionObject(c.env, id).fetch(new Request(c.req.raw, { headers }));
    // The Worker holds the socket and counts what the launcher sends. An ingest token names nobody: the audit
    // row of a flood names the launcher, and its target the session.
    return relayFor(c, upgraded, 'launcher', id, { kind: 'launcher', id: null, name: 'launcher' }, () =>
      sessionObject(c.env, id).socketFlooded('launcher', null),
    );
  })
  .put('/sessions/:id/pieces/:seq', validate('param', SessionIdParam.extend({ seq: SeqParam })), async (c) => {
    const { id, seq } = c.req.valid('param');
    // Only the piece's own headers are validated (the object holds those three, whatever else was sent).
    const headers = PieceHeaders.safeParse({
      [IngestHeader.keyframe]: c.req.header(IngestHeader.keyframe),
      [IngestHeader.startMs]: c.req.header(IngestHeader.startMs),
      [IngestHeader.endMs]: c.req.header(IngestHeader.endMs),
    });
    if (!headers.success) throw new ApiError(400, 'invalid_header', describeIssues(headers.error.issues));
    const meta = headers.data;
    const length = contentLength(c.req.header('content-length'));
    const type = c.req.header('content-type')?.split(';')[0]?.trim();
    const format = (Object.keys(PIECE_CONTENT_TYPE) as RecordingFormat[]).find((f) => PIECE_CONTENT_TYPE[f] === type);
    if (!format)
      throw new ApiError(415, 'unsupported_media_type', 'Send pieces as video/webm or application/x-asciicast.');
    const limit = pieceLimit(format, seq);
    if (length > limit) throw new ApiError(413, 'piece_too_large', `This piece may be at most ${limit} bytes.`);
    const body = c.req.raw.body;
    if (!body) throw new ApiError(400, 'empty_piece', 'The piece has no body.');

    const session = sessionObject(c.env, id);
    const begin = await session.beginPiece(seq);
    if (begin.kind === 'refused') throw new ApiError(begin.status, begin.code, begin.message);
    if (begin.format !== format) {
      // Give the sequence number back at once, so a corrected retry need not wait for the lease.
      if (begin.kind === 'go') await session.abortPiece(seq, begin.attempt);
      throw new ApiError(
        415,
        'unsupported_media_type',
        `This session records ${begin.format}: send pieces as ${PIECE_CONTENT_TYPE[begin.format]}.`,
      );
    }
    // A retry of a stored piece is compared, not checked again: what was stored passed when it was stored.
    const keystrokes = begin.kind === 'go' ? begin.keystrokes : true;

    if (begin.kind === 'stored') {
      // A retry: never overwrite. Same bytes → acknowledge again; other bytes → conflict.
      let again: PieceDigest;
      if (length <= WHOLE_PIECE_BYTES) {
        again = (await readWholePiece(body, seq, length, format, keystrokes)).piece;
      } else {
        const { transform, digest } = inspectPiece(seq, length, format, keystrokes);
        await body.pipeThrough(transform).pipeTo(new WritableStream());
        again = await digest;
      }
      const answer = duplicateOrConflict(c, seq, again, begin);
      // The first upload may have been stored without its count (the count is written after the commit).
      await countRedactions(c.env.DB, id, seq, again);
      return answer;
    }

    // This attempt writes its own object; the Durable Object makes it the piece only if the attempt still
    // holds its claim (docs/decisions.md, "One object per upload attempt").
    const key = pieceKey(id, seq, format, begin.attempt);
    // The session's storage location, as its object holds it (chosen by target at launch).
    const bucket = storageBuckets(c.env, begin.storage).recordings;
    const options = { httpMetadata: { contentType: PIECE_CONTENT_TYPE[format] } };
    let piece: PieceDigest;
    if (length <= WHOLE_PIECE_BYTES) {
      // Read, checked and hashed before any byte goes to R2; then stored in one call.
      let whole: Awaited<ReturnType<typeof readWholePiece>>;
      try {
        whole = await readWholePiece(body, seq, length, format, keystrokes);
      } catch (error) {
        await session.abortPiece(seq, begin.attempt);
        throw error;
      }
      const stored = await bucket.put(key, whole.bytes, options).catch(async (error: unknown) => {
        await session.abortPiece(seq, begin.attempt);
        throw error;
      });
      if (!stored) {
        await session.abortPiece(seq, begin.attempt);
        throw new Error('R2 did not store the piece');
      }
      piece = whole.piece;
    } else {
      const { transform, digest } = inspectPiece(seq, length, format, keystrokes);
      const fixed = new FixedLengthStream(length);
      const [piped, stored] = await Promise.allSettled([
        body.pipeThrough(transform).pipeTo(fixed.writable),
        bucket.put(key, fixed.readable, options),
      ]);
      if (piped.status === 'rejected' || stored.status === 'rejected' || !stored.value) {
        await session.abortPiece(seq, begin.attempt);
        if (stored.status === 'fulfilled' && stored.value) await bucket.delete(key);
        // The inspector's verdict explains the failure better than the storage error it caused.
        if (piped.status === 'rejected') throw piped.reason;
        throw stored.status === 'rejected' ? stored.reason : new Error('R2 did not store the piece');
      }
      piece = await digest;
    }
    const commit = await session.pieceStored({
      seq,
      size: length,
      sha256: piece.sha256,
      keyframe: meta[IngestHeader.keyframe],
      // A terminal log's times come from its own lines; a WebM piece's from its headers.
      startMs: piece.span?.startMs ?? meta[IngestHeader.startMs],
      endMs: piece.span?.endMs ?? meta[IngestHeader.endMs],
      attempt: begin.attempt,
    });
    if (commit.kind !== 'stored') {
      // Lost the claim (or the recording was sealed meanwhile): what is acknowledged stays as it is, and these
      // bytes leave storage.
      await bucket.delete(key);
      if (commit.kind === 'refused') throw new ApiError(commit.status, commit.code, commit.message);
      return duplicateOrConflict(c, seq, piece, commit);
    }
    await countRedactions(c.env.DB, id, seq, piece);
    return c.json({ seq, size: length, sha256: piece.sha256, duplicate: false } satisfies PieceAck, 201);
  })
  .post('/sessions/:id/events/:batch', validate('param', SessionIdParam.extend({ batch: SeqParam })), async (c) => {
    const { id, batch } = c.req.valid('param');
    const bytes = await readWholeBody(
      c.req.raw,
      MAX_BATCH_BYTES,
      () => new ApiError(413, 'batch_too_large', `An event batch may be at most ${MAX_BATCH_BYTES} bytes.`),
    );
    // Invalid UTF-8 becomes U+FFFD rather than failing the whole batch; the bytes' hash stays the identity.
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: false, ignoreBOM: false }).decode(bytes));
    } catch {
      throw new ApiError(400, 'invalid_json', 'The batch is not valid JSON.');
    }
    const parsed = ActivityBatch.safeParse(json);
    if (!parsed.success) throw new ApiError(400, 'invalid_batch', describeIssues(parsed.error.issues));
    const session = await findSession(database(c.env.DB), id);
    if (!session) throw new ApiError(404, 'session_not_found', 'No such session.');
    if (!acceptsRecording(phaseOf(session))) {
      throw new ApiError(409, 'recording_sealed', 'The session ended and its record is sealed.');
    }
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    const sha256 = hex(digest);
    const ack = await storeBatch(c.env, session, batch, sha256, parsed.data.events);
    return c.json(ack, ack.duplicate ? 200 : 201);
  });

/**
 * Keeps how many secrets a stored terminal-log piece shows as replaced (its markers), for the session's
 * `recordingRedactions`; pieces without markers write nothing. The same piece always counts the same.
 */
async function countRedactions(db: D1Database, sessionId: string, seq: number, piece: PieceDigest): Promise<void> {
  if (Object.keys(piece.redactions).length === 0) return;
  await db
    .prepare('INSERT OR REPLACE INTO recording_redactions (session_id, seq, redactions) VALUES (?1, ?2, ?3)')
    .bind(sessionId, seq, JSON.stringify(piece.redactions))
    .run();
}

/** Another upload of `seq` is stored: the same bytes are acknowledged again, other bytes are a conflict. */
function duplicateOrConflict(
  c: Context,
  seq: number,
  piece: PieceDigest,
  stored: { sha256: string; size: number },
): Response {
  if (piece.sha256 !== stored.sha256) {
    throw new ApiError(409, 'seq_conflict', `Piece ${seq} is already stored with different content.`);
  }
  return c.json({ seq, size: stored.size, sha256: piece.sha256, duplicate: true } satisfies PieceAck, 200);
}

/** Largest piece of this format and sequence number. */
function pieceLimit(format: RecordingFormat, seq: number): number {
  if (format === 'webm') return seq === 0 ? MAX_INIT_SEGMENT_BYTES : MAX_PIECE_BYTES;
  return seq === 0 ? MAX_CAST_HEADER_BYTES : MAX_CAST_PIECE_BYTES;
}

const LengthHeader = z
  .string()
  .regex(/^\d{1,10}$/)
  .transform(Number);

function contentLength(header: string | undefined): number {
  if (header === undefined) throw new ApiError(411, 'length_required', 'Send Content-Length with every piece.');
  const parsed = LengthHeader.safeParse(header);
  if (!parsed.success) throw new ApiError(400, 'invalid_header', 'Content-Length must be a whole number.');
  if (parsed.data === 0) throw new ApiError(400, 'empty_piece', 'The piece has no body.');
  if (parsed.data > MAX_PIECE_BYTES) {
    throw new ApiError(413, 'piece_too_large', `A piece may be at most ${MAX_PIECE_BYTES} bytes.`);
  }
  return parsed.data;
}
