/**
 * Making a piece canonical: each upload attempt writes its own object and the session's Durable Object makes
 * exactly one of them the piece. An attempt that outlived its lease while another took the number over gets a
 * 409 and its bytes leave storage; sealing reads every piece back against its hash and fails loudly on a
 * difference. The interleavings are driven for real: a request body held open, the lease's clock moved on.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { SessionDO } from '../../durable/session-do.ts';
import { manifestKey, type SignedManifest, sha256Hex } from '../../protocol/evidence.ts';
import { pieceKey, recordingKey } from '../../protocol/ingest.ts';
import {
  api,
  connectLauncher,
  errorCode,
  fixturePieces,
  type Launched,
  launch,
  pieceObjects,
  putFixture,
  request,
  sealNow,
  storedPieceBytes,
  storedPieceKey,
} from './helpers.ts';

const stub = (id: string) => env.SESSIONS.getByName(id);

/** A PUT of `bytes` as piece `seq` whose body sends `first` bytes, then waits until `release()`. */
function stalledPut(s: Launched, seq: number, bytes: Uint8Array, first = 100) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(bytes.slice(0, first));
      await released;
      controller.enqueue(bytes.slice(first));
      controller.close();
    },
  });
  const response = request(`/ingest/v1/sessions/${s.sessionId}/pieces/${seq}`, {
    method: 'PUT',
    body,
    headers: {
      authorization: `Bearer ${s.token}`,
      'content-type': 'video/webm',
      'content-length': String(bytes.byteLength),
      'x-witness-keyframe': '1',
      'x-witness-start-ms': '1000',
      'x-witness-end-ms': '2000',
    },
    // @ts-expect-error: workerd's RequestInit takes duplex for streamed bodies
    duplex: 'half',
  });
  return { response, release };
}

/** The attempt holding the upload lease on `seq`, once one does. */
async function leaseHolder(id: string, seq: number): Promise<string> {
  let holder: string | null = null;
  await expect
    .poll(async () => {
      holder = await runInDurableObject(stub(id), (_i: SessionDO, state) => {
        const row = state.storage.sql
          .exec<{ attempt: string }>(`SELECT attempt FROM uploads WHERE seq = ?`, seq)
          .toArray()[0];
        return row?.attempt ?? null;
      });
      return holder;
    })
    .not.toBeNull();
  return holder as unknown as string;
}

/** Stands in for the 60 s upload lease running out. */
async function expireLeases(id: string): Promise<void> {
  await runInDurableObject(stub(id), (_i: SessionDO, state) => {
    state.storage.sql.exec(`UPDATE uploads SET lease_until = 0`);
  });
}

async function endAndSeal(s: Launched, lastSeq: number): Promise<SignedManifest['manifest']> {
  const launcher = await connectLauncher(s);
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq }));
  expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'ended_by_user' });
  await sealNow(s.sessionId);
  const stored = await env.RECORDINGS.get(manifestKey(s.sessionId));
  if (!stored) throw new Error('no manifest was written');
  return ((await stored.json()) as SignedManifest).manifest;
}

describe('an upload that outlived its lease', () => {
  it('cannot replace the piece another upload stored meanwhile: 409 seq_conflict, its bytes leave storage', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    expect((await putFixture(s, 0)).status).toBe(201);
    // A sends 100 bytes of other content as piece 1, then stalls past its lease.
    const a = stalledPut(s, 1, pieces[2]!.bytes);
    const attemptA = await leaseHolder(s.sessionId, 1);
    await expireLeases(s.sessionId);
    // B, the real piece 1, takes the number over and is acknowledged.
    const b = await putFixture(s, 1);
    expect(b.status).toBe(201);
    // A finishes: it lost its claim to B, whose other bytes are the piece; A is refused and what was
    // acknowledged stays.
    a.release();
    const refused = await a.response;
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe('seq_conflict');

    const keyB = await storedPieceKey(s.sessionId, 1);
    expect(keyB).not.toBe(pieceKey(s.sessionId, 1, 'webm', attemptA));
    expect(await pieceObjects(s.sessionId, 1)).toEqual([keyB]);
    expect(await storedPieceBytes(s.sessionId, 1)).toEqual(pieces[1]!.bytes);

    // Index, chain, manifest and sealed file all hold B.
    const manifest = await endAndSeal(s, 1);
    expect(manifest.recordingStatus).toBe('ready');
    expect(manifest.pieces[1]?.sha256).toBe(await sha256Hex(pieces[1]!.bytes as Uint8Array<ArrayBuffer>));
  });

  it('finishing while the attempt that took its number over is still uploading: 409 upload_superseded', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    const a = stalledPut(s, 0, pieces[0]!.bytes);
    const attemptA = await leaseHolder(s.sessionId, 0);
    await expireLeases(s.sessionId);
    const b = stalledPut(s, 0, pieces[0]!.bytes, 20);
    await expect.poll(() => leaseHolder(s.sessionId, 0)).not.toBe(attemptA);
    a.release();
    const refused = await a.response;
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe('upload_superseded');
    expect(await pieceObjects(s.sessionId, 0)).not.toContain(pieceKey(s.sessionId, 0, 'webm', attemptA));
    b.release();
    expect((await b.response).status).toBe(201);
    expect(await pieceObjects(s.sessionId, 0)).toEqual([await storedPieceKey(s.sessionId, 0)]);
  });

  it('the same bytes as the stored piece: acknowledged as a duplicate, its own object removed', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    const a = stalledPut(s, 0, pieces[0]!.bytes, 10);
    await leaseHolder(s.sessionId, 0);
    await expireLeases(s.sessionId);
    expect((await putFixture(s, 0)).status).toBe(201);
    a.release();
    const again = await a.response;
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    expect(await pieceObjects(s.sessionId, 0)).toEqual([await storedPieceKey(s.sessionId, 0)]);
  });

  it('still stores its piece when nobody else took the number', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    const a = stalledPut(s, 0, pieces[0]!.bytes);
    await leaseHolder(s.sessionId, 0);
    await expireLeases(s.sessionId);
    a.release();
    expect((await a.response).status).toBe(201);
    expect(await storedPieceBytes(s.sessionId, 0)).toEqual(pieces[0]!.bytes);
  });

  it('finishing after the recording was sealed is refused, and leaves nothing behind', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    for (const seq of [0, 1]) expect((await putFixture(s, seq)).status).toBe(201);
    const late = stalledPut(s, 2, pieces[2]!.bytes);
    await leaseHolder(s.sessionId, 2);
    await expireLeases(s.sessionId); // the seal does not wait for a lease that ran out
    const manifest = await endAndSeal(s, 1);
    expect(manifest.pieces.map((p) => p.seq)).toEqual([0, 1]);
    late.release();
    const refused = await late.response;
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe('recording_sealed');
    expect(await pieceObjects(s.sessionId, 2)).toEqual([]);
  });
});

describe('sealing reads every piece back', () => {
  it('a recording of more pieces than one D1 statement holds is sealed, and its whole index copied', async () => {
    const fixture = fixturePieces();
    const s = await launch();
    const count = 40;
    for (let seq = 0; seq < count; seq++) {
      const piece = fixture[seq === 0 ? 0 : 1 + ((seq - 1) % (fixture.length - 1))]!;
      const res = await request(`/ingest/v1/sessions/${s.sessionId}/pieces/${seq}`, {
        method: 'PUT',
        body: piece.bytes,
        headers: {
          authorization: `Bearer ${s.token}`,
          'content-type': 'video/webm',
          'content-length': String(piece.bytes.byteLength),
          'x-witness-keyframe': piece.keyframe ? '1' : '0',
          'x-witness-start-ms': String(piece.startMs),
          'x-witness-end-ms': String(piece.endMs),
        },
      });
      expect(res.status).toBe(201);
    }
    const manifest = await endAndSeal(s, count - 1);
    expect(manifest.recordingStatus).toBe('ready');
    const indexed = await env.DB.prepare('SELECT COUNT(*) AS n FROM pieces WHERE session_id = ?')
      .bind(s.sessionId)
      .first<{ n: number }>();
    expect(indexed?.n).toBe(count);
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { recording: { mediaDurationMs: number } };
    expect(view.recording.mediaDurationMs).toBeGreaterThan(0);
  });

  it('removes the objects of attempts that were never committed (a Worker that died mid-upload)', async () => {
    const s = await launch();
    for (const seq of [0, 1, 2]) expect((await putFixture(s, seq)).status).toBe(201);
    const stray = pieceKey(s.sessionId, 1, 'webm', 'deadbeef0001');
    await env.RECORDINGS.put(stray, fixturePieces()[2]!.bytes);
    const manifest = await endAndSeal(s, 2);
    expect(manifest.recordingStatus).toBe('ready');
    expect(await pieceObjects(s.sessionId, 1)).toEqual([await storedPieceKey(s.sessionId, 1)]);
    for (const seq of [0, 1, 2]) expect(await storedPieceBytes(s.sessionId, seq)).toEqual(fixturePieces()[seq]!.bytes);
  });

  it('a piece whose stored bytes differ from its hash fails the recording with the cause, and no file', async () => {
    const pieces = fixturePieces();
    const s = await launch();
    for (let seq = 0; seq < 4; seq++) expect((await putFixture(s, seq)).status).toBe(201);
    // Storage changed under the index (what the stalled upload used to do): same size, other bytes.
    const key = (await storedPieceKey(s.sessionId, 2)) as string;
    const tampered = new Uint8Array(pieces[2]!.bytes);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0xff;
    await env.RECORDINGS.put(key, tampered);

    const manifest = await endAndSeal(s, 3);
    expect(manifest.recordingStatus).toBe('failed');
    expect(manifest.recording).toBeNull();
    expect(manifest.recordingError).toMatch(/piece 2 in storage does not match the hash it was acknowledged with/);
    expect(await env.RECORDINGS.head(recordingKey(s.sessionId, 'webm'))).toBeNull();
    const session = (await (await api(`/sessions/${s.sessionId}`)).json()) as { recording: Record<string, unknown> };
    expect(session.recording).toMatchObject({ status: 'failed' });
    expect(JSON.stringify(session)).toMatch(/does not match the hash/);
    // Not retried: a second wake-up changes nothing.
    expect((await api(`/sessions/${s.sessionId}/recording.webm`)).status).toBeGreaterThanOrEqual(400);
  });
});

describe('piece and batch numbers', () => {
  it('are plain decimal integers: hex, exponents, signs, fractions and leading zeros get a 400', async () => {
    const s = await launch();
    const piece = fixturePieces()[0]!;
    for (const seq of ['0x10', '1e1', '+1', '-0', '1.0', '01', ' 1', '1_0', '٣', '9999999999']) {
      const res = await request(`/ingest/v1/sessions/${s.sessionId}/pieces/${encodeURIComponent(seq)}`, {
        method: 'PUT',
        body: piece.bytes,
        headers: {
          authorization: `Bearer ${s.token}`,
          'content-type': 'video/webm',
          'content-length': String(piece.bytes.byteLength),
          'x-witness-keyframe': '1',
          'x-witness-start-ms': '0',
          'x-witness-end-ms': '0',
        },
      });
      expect(res.status, seq).toBe(400);
      const batch = await request(`/ingest/v1/sessions/${s.sessionId}/events/${encodeURIComponent(seq)}`, {
        method: 'POST',
        body: JSON.stringify({ events: [] }),
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      });
      expect(batch.status, seq).toBe(400);
    }
    const listed = await env.RECORDINGS.list({ prefix: `sessions/${s.sessionId}/` });
    expect(listed.objects).toEqual([]);
  });
});
