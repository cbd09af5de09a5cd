/**
 * Evidence downloads (docs/evidence.md): a session's signed manifest, its raw stored pieces for offline
 * verification with `witness verify`, and the public key manifests are signed with.
 */
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  importSigningKey,
  manifestKey,
  type PublicKeyReply,
  publicKeyPem,
  SIGNATURE_ALGORITHM,
  toBase64,
} from '../../protocol/evidence.ts';
import { EXTENSION, MAX_SEQ, PIECE_CONTENT_TYPE, pieceKey } from '../../protocol/ingest.ts';
import { isMediaDeleted, isSealed, phaseOf } from '../../protocol/lifecycle.ts';
import { RecordingFormat } from '../../protocol/session.ts';
import { pieces } from '../../schema/index.ts';
import { auditRead } from '../audit.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import { ApiError } from '../errors.ts';
import { sessionObject } from '../stubs.ts';
import { validate } from '../validate.ts';
import { getMedia, sessionBuckets } from '../media-bucket.ts';
import { refuseDeletedMedia, requireSession, SessionIdParam } from './params.ts';

function iso(ms: number | null): string {
  return ms === null ? 'unknown' : new Date(ms).toISOString();
}

const PieceParam = SessionIdParam.extend({
  file: z
    .string()
    .regex(/^\d{1,10}\.(webm|cast)$/, 'name a piece as <seq>.webm (or <seq>.cast for an SSH session)')
    .transform((name) => {
      const [seq = '', ext] = name.split('.');
      return { seq: Number(seq), format: ext === 'cast' ? ('asciicast' as const) : ('webm' as const) };
    })
    .pipe(z.strictObject({ seq: z.number().int().max(MAX_SEQ), format: RecordingFormat })),
});

/**
 * Which upload attempt holds piece `seq`: D1's index once the recording is sealed, the session's object before
 * (only the piece index names it: attempts that lost their claim never count).
 */
async function storedPiece(env: Env, id: string, seq: number): Promise<{ attempt: string | null } | null> {
  const indexed = await database(env.DB)
    .select({ attempt: pieces.attempt })
    .from(pieces)
    .where(and(eq(pieces.sessionId, id), eq(pieces.seq, seq)))
    .get();
  return indexed ?? (await sessionObject(env, id).pieceObject(seq));
}

export const evidenceRoutes = new Hono<ApiEnv>()
  .get('/evidence/public-key', async (c) => {
    if (!c.env.WITNESS_SIGNING_KEY) {
      throw new ApiError(503, 'signing_key_missing', 'No evidence signing key is configured on this server.');
    }
    const key = await importSigningKey(c.env.WITNESS_SIGNING_KEY).catch(() => {
      throw new ApiError(503, 'signing_key_invalid', 'The evidence signing key is not an Ed25519 PKCS#8 key.');
    });
    return c.json({
      algorithm: SIGNATURE_ALGORITHM,
      keyId: key.keyId,
      publicKey: toBase64(key.publicKey),
      pem: await publicKeyPem(key.publicKey),
    } satisfies PublicKeyReply);
  })
  .get('/sessions/:id/manifest', requirePermission('recordings:view'), validate('param', SessionIdParam), async (c) => {
    const { id } = c.req.valid('param');
    const row = await requireSession(c.env, id);
    if (!isSealed(phaseOf(row))) {
      throw new ApiError(409, 'not_sealed', 'The session is not sealed yet; its manifest is written when it is.');
    }
    const stored = await sessionBuckets(c.env, row).recordings.get(manifestKey(id));
    const deleted = isMediaDeleted(phaseOf(row));
    let body: ReadableStream | string;
    if (stored) {
      body = stored.body;
    } else if (deleted) {
      // Retention never deletes media before the manifest is stored; written now it would attest to nothing.
      throw new ApiError(503, 'manifest_unavailable', 'The manifest is not in storage and the media is deleted.');
    } else {
      // Storing it failed at sealing time (or the signing key was missing then): the object writes it again.
      const outcome = await sessionObject(c.env, id).publishManifest();
      if (outcome.kind !== 'published') {
        const message = outcome.kind === 'failed' ? outcome.message : 'The session is not sealed yet.';
        throw new ApiError(503, 'manifest_unavailable', `The manifest could not be written: ${message}`);
      }
      body = outcome.body;
    }
    await auditRead(c, {
      action: 'evidence.downloaded',
      sessionId: id,
      kind: 'evidence',
      details: { first: 'manifest' },
    });
    return new Response(body, {
      headers: {
        'content-type': 'application/json',
        'cache-control': 'private, no-cache',
        'content-disposition': `inline; filename="witness-${id}-manifest.json"`,
        // The signed manifest cannot say it: the media it lists is gone (retention), the manifest stays.
        ...(deleted && { 'x-witness-media': `deleted ${iso(row.mediaDeletedAt)}` }),
      },
    });
  })
  .get('/sessions/:id/pieces/:file', requirePermission('recordings:view'), validate('param', PieceParam), async (c) => {
    const { id, file } = c.req.valid('param');
    const { seq } = file;
    const row = await requireSession(c.env, id);
    if (file.format !== row.format) {
      throw new ApiError(
        404,
        'piece_not_found',
        `Session ${id} records ${row.format}: ask for ${seq}.${EXTENSION[row.format]}.`,
      );
    }
    refuseDeletedMedia(row);
    const stored = await storedPiece(c.env, id, seq);
    const object = stored && (await getMedia(c.env, row, pieceKey(id, seq, row.format, stored.attempt)));
    if (!object) throw new ApiError(404, 'piece_not_found', `Session ${id} has no stored piece ${seq}.`);
    await auditRead(c, {
      action: 'evidence.downloaded',
      sessionId: id,
      kind: 'evidence',
      bytes: object.size,
      details: { first: `piece ${seq}` },
    });
    return new Response(object.body, {
      headers: {
        'content-type': PIECE_CONTENT_TYPE[row.format],
        'content-length': String(object.size),
        etag: object.httpEtag,
        'cache-control': 'private, max-age=3600',
        'content-disposition': `attachment; filename="${String(seq).padStart(10, '0')}.${EXTENSION[row.format]}"`,
      },
    });
  });
