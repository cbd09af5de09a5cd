import { env } from 'cloudflare:workers';
import { hex } from '../../protocol/hex.ts';
import { describe, expect, it } from 'vitest';
import {
  errorCode,
  fixturePieces,
  launch,
  pieceObjects,
  putFixture,
  putPiece,
  request,
  storedPieceBytes,
  storedPieceKey,
} from './helpers.ts';

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest('SHA-256', bytes);
  return hex(hash);
}

/** A body of unknown length (sent chunked), as a streaming client would send it. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

const stored = (sessionId: string, seq: number) => storedPieceBytes(sessionId, seq);

describe('PUT /ingest/v1/sessions/{id}/pieces/{seq}', () => {
  it('stores each piece as its own R2 object and acknowledges it with its hash', async () => {
    const s = await launch();
    const pieces = fixturePieces();
    for (let seq = 0; seq < 3; seq++) {
      const res = await putFixture(s, seq);
      expect(res.status).toBe(201);
      const ack = (await res.json()) as Record<string, unknown>;
      expect(ack).toEqual({
        seq,
        size: pieces[seq]?.bytes.byteLength,
        sha256: await sha256(pieces[seq]!.bytes),
        duplicate: false,
      });
      expect(await stored(s.sessionId, seq)).toEqual(pieces[seq]?.bytes);
    }
  });

  it('makes a retry idempotent: same bytes are acknowledged again, nothing is rewritten', async () => {
    const s = await launch();
    await putFixture(s, 0);
    const key = (await storedPieceKey(s.sessionId, 0)) as string;
    const first = await env.RECORDINGS.head(key);
    const again = await putFixture(s, 0);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    const after = await env.RECORDINGS.head(key);
    expect(await pieceObjects(s.sessionId, 0)).toEqual([key]);
    expect(after?.uploaded.getTime()).toBe(first?.uploaded.getTime());
    expect(after?.etag).toBe(first?.etag);
  });

  it('streams a piece too large to be read whole, and compares a retry of it the same way', async () => {
    const s = await launch();
    const cluster = fixturePieces()[1]!;
    // Past WHOLE_PIECE_BYTES (1 MiB): checked by its first bytes, hashed and stored as it streams.
    const bytes = new Uint8Array(cluster.bytes.byteLength + 1536 * 1024);
    bytes.set(cluster.bytes);
    const res = await putPiece(s, 1, bytes, cluster);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { sha256: string }).sha256).toBe(await sha256(bytes));
    expect(await stored(s.sessionId, 1)).toEqual(bytes);
    const again = await putPiece(s, 1, bytes, cluster);
    expect(again.status).toBe(200);
    const other = bytes.slice();
    other[other.length - 1] = 1;
    const conflict = await putPiece(s, 1, other, cluster);
    expect(conflict.status).toBe(409);
    expect(await errorCode(conflict)).toBe('seq_conflict');
  });

  it('refuses different bytes for a stored seq and keeps the original', async () => {
    const s = await launch();
    const pieces = fixturePieces();
    await putFixture(s, 1);
    const res = await putPiece(s, 1, pieces[2]!.bytes, pieces[2]);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('seq_conflict');
    expect(await stored(s.sessionId, 1)).toEqual(pieces[1]?.bytes);
  });

  it('accepts pieces out of order and shows the hole until it is filled', async () => {
    const s = await launch();
    for (const seq of [0, 1, 3, 4]) expect((await putFixture(s, seq)).status).toBe(201);
    const holey = (await (
      await request(`/api/v1/sessions/${s.sessionId}`, { headers: { authorization: 'Bearer test-api-key' } })
    ).json()) as {
      recording: { pieces: number; missingPieces: unknown };
    };
    expect(holey.recording.pieces).toBe(4);
    expect(holey.recording.missingPieces).toEqual([{ from: 2, to: 2 }]);
    expect((await putFixture(s, 2)).status).toBe(201);
    const whole = (await (
      await request(`/api/v1/sessions/${s.sessionId}`, { headers: { authorization: 'Bearer test-api-key' } })
    ).json()) as {
      recording: { pieces: number; missingPieces: unknown };
    };
    expect(whole.recording).toMatchObject({ pieces: 5, missingPieces: [] });
  });

  describe('bad input gets a clear 4xx and stores nothing', () => {
    it.each([
      [
        'bytes that are not WebM as the init segment',
        0,
        new TextEncoder().encode('<html>not a video</html>'),
        422,
        'not_webm',
      ],
      ['an init segment where a cluster belongs', 5, 'init', 422, 'not_webm'],
      ['a cluster where the init segment belongs', 0, 'cluster', 422, 'not_webm'],
      ['garbage bytes', 3, new Uint8Array([0, 0, 0, 0, 1, 2, 3]), 422, 'not_webm'],
    ] as const)('%s', async (_name, seq, body, status, code) => {
      const s = await launch();
      const pieces = fixturePieces();
      const bytes = body === 'init' ? pieces[0]!.bytes : body === 'cluster' ? pieces[1]!.bytes : body;
      const res = await putPiece(s, seq, bytes);
      expect(res.status).toBe(status);
      expect(await errorCode(res)).toBe(code);
      expect(await stored(s.sessionId, seq)).toBeNull();
      // The seq was released: the right piece can still be stored.
      if (seq === 0) expect((await putFixture(s, 0)).status).toBe(201);
    });

    it('refuses a body longer than its Content-Length', async () => {
      const s = await launch();
      const bytes = fixturePieces()[1]!.bytes;
      const res = await request(`/ingest/v1/sessions/${s.sessionId}/pieces/1`, {
        method: 'PUT',
        body: streamOf(bytes),
        headers: {
          authorization: `Bearer ${s.token}`,
          'content-type': 'video/webm',
          'content-length': String(bytes.byteLength - 10),
          'x-witness-keyframe': '1',
          'x-witness-start-ms': '0',
          'x-witness-end-ms': '100',
        },
      });
      expect(res.status).toBe(400);
      expect(await stored(s.sessionId, 1)).toBeNull();
    });

    it.each([
      ['no Content-Length', { 'content-length': '' }, 411, 'length_required'],
      ['an oversized piece', { 'content-length': String(17 * 1024 * 1024) }, 413, 'piece_too_large'],
      ['the wrong content type', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      ['a malformed time header', { 'x-witness-start-ms': 'soon' }, 400, 'invalid_header'],
      ['an end before the start', { 'x-witness-start-ms': '500', 'x-witness-end-ms': '100' }, 400, 'invalid_header'],
      ['a missing keyframe header', { 'x-witness-keyframe': '' }, 400, 'invalid_header'],
    ])('%s', async (_name, override, status, code) => {
      const s = await launch();
      const piece = fixturePieces()[1]!;
      const headers: Record<string, string> = {
        authorization: `Bearer ${s.token}`,
        'content-type': 'video/webm',
        'content-length': String(piece.bytes.byteLength),
        'x-witness-keyframe': '1',
        'x-witness-start-ms': '0',
        'x-witness-end-ms': '100',
        ...override,
      };
      for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
      const res = await request(`/ingest/v1/sessions/${s.sessionId}/pieces/1`, {
        method: 'PUT',
        body: status === 411 ? streamOf(piece.bytes) : piece.bytes,
        headers,
      });
      expect(res.status).toBe(status);
      expect(await errorCode(res)).toBe(code);
      expect(await stored(s.sessionId, 1)).toBeNull();
    });

    it.each([
      ['a negative seq', '-1'],
      ['a fractional seq', '1.5'],
      ['a huge seq', '10000000000'],
      ['a word', 'next'],
    ])('%s', async (_name, seq) => {
      const s = await launch();
      const res = await request(`/ingest/v1/sessions/${s.sessionId}/pieces/${seq}`, {
        method: 'PUT',
        body: fixturePieces()[1]!.bytes,
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'video/webm' },
      });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('invalid_param');
    });
  });

  describe('tokens', () => {
    it('refuses a token for another session, and stores nothing in either', async () => {
      const a = await launch();
      const b = await launch();
      const res = await putFixture({ sessionId: b.sessionId, token: a.token }, 0);
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe('token_wrong_session');
      expect(await stored(b.sessionId, 0)).toBeNull();
      expect(await stored(a.sessionId, 0)).toBeNull();
    });

    it.each([
      ['a missing token', '', 401, 'unauthenticated'],
      ['a malformed token', 'wt1.nope', 401, 'invalid_token'],
      ['a forged signature', 'forged', 401, 'invalid_token'],
      ['an expired token', 'expired', 401, 'token_expired'],
      ['the API key', 'test-api-key', 401, 'invalid_token'],
    ])('refuses %s', async (_name, kind, status, code) => {
      const s = await launch();
      let token = kind;
      if (kind === 'forged') token = `${s.token.slice(0, -4)}AAAA`;
      if (kind === 'expired') {
        const { issueIngestToken } = await import('../../server/auth/ingest-token.ts');
        token = (await issueIngestToken(env.WITNESS_TOKEN_SECRET, s.sessionId, 60, Date.now() - 120_000)).token;
      }
      const res = await putPiece(
        { sessionId: s.sessionId, token },
        0,
        fixturePieces()[0]!.bytes,
        {},
        token ? {} : { authorization: '' },
      );
      expect(res.status).toBe(status);
      expect(await errorCode(res)).toBe(code);
      expect(await stored(s.sessionId, 0)).toBeNull();
    });

    it('cannot read anything through the API', async () => {
      const s = await launch();
      const res = await request(`/api/v1/sessions/${s.sessionId}`, { headers: { authorization: `Bearer ${s.token}` } });
      expect(res.status).toBe(401);
    });
  });

  it('refuses media when the session records nothing', async () => {
    const s = await launch({ policy: { recordingEnabled: false } });
    const res = await putFixture(s, 0);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('recording_disabled');
  });
});
