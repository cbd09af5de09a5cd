/**
 * Evidence inside workerd: the hash chain SessionDO keeps as pieces arrive (in order, out of order, with a
 * hole) against the verifier's own computation, and the signed manifest for each way a session can end.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { SessionDO } from '../../durable/session-do.ts';
import {
  activityDigest,
  chainGenesis,
  chainHead,
  fromBase64,
  keyIdOf,
  manifestKey,
  manifestSignatureValid,
  PublicKeyReply,
  SignedManifest,
  sha256Hex,
} from '../../protocol/evidence.ts';
import { recordingKey } from '../../protocol/ingest.ts';
import {
  api,
  connectLauncher,
  errorCode,
  fixturePieces,
  type Launched,
  launch,
  putFixture,
  request,
  sealNow,
} from './helpers.ts';

function stub(id: string) {
  return env.SESSIONS.getByName(id);
}

/** What the verifier would compute from the fixture pieces that were uploaded. */
async function expectedHead(sessionId: string, seqs: number[]): Promise<string> {
  const pieces = fixturePieces();
  const hashed = await Promise.all(
    [...seqs]
      .sort((a, b) => a - b)
      .map(async (seq) => ({ seq, sha256: await sha256Hex(pieces[seq]!.bytes as Uint8Array<ArrayBuffer>) })),
  );
  return chainHead(sessionId, hashed);
}

async function chainProgress(id: string): Promise<{ head: string; through: number } | null> {
  return runInDurableObject(stub(id), (_i: SessionDO, state) => {
    const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'chain'`).toArray()[0];
    return row ? (JSON.parse(row.value) as { head: string; through: number }) : null;
  });
}

async function serverKey(): Promise<PublicKeyReply> {
  const res = await api('/evidence/public-key');
  expect(res.status).toBe(200);
  return PublicKeyReply.parse(await res.json());
}

/** Fetches the manifest and checks its signature with the server's published key. */
async function signedManifest(id: string): Promise<SignedManifest> {
  const res = await api(`/sessions/${id}/manifest`);
  expect(res.status).toBe(200);
  const raw = (await res.json()) as { manifest: unknown; signature: string; publicKey: string };
  const key = await serverKey();
  expect(await manifestSignatureValid(raw.manifest, raw.signature, fromBase64(key.publicKey))).toBe(true);
  const signed = SignedManifest.parse(raw);
  expect(signed.manifest.keyId).toBe(key.keyId);
  expect(signed.publicKey).toBe(key.publicKey);
  return signed;
}

/** Uploads the given fixture pieces, has the launcher end at `lastSeq`, and seals. */
async function recordAndEnd(s: Launched, seqs: number[], lastSeq: number): Promise<void> {
  const launcher = await connectLauncher(s);
  for (const seq of seqs) expect((await putFixture(s, seq)).status).toBe(201);
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq }));
  expect(await launcher.nextJson()).toEqual({ type: 'ended', reason: 'ended_by_user' });
  await sealNow(s.sessionId);
}

describe('hash chain', () => {
  it('in order: each piece extends the chain at once, and the sealed head is what the verifier computes', async () => {
    const s = await launch();
    const count = fixturePieces().length;
    expect(count).toBeGreaterThan(4);
    for (let seq = 0; seq < count; seq++) {
      await putFixture(s, seq);
      const progress = await chainProgress(s.sessionId);
      expect(progress).toEqual({ head: await expectedHead(s.sessionId, range(seq + 1)), through: seq });
    }
    const { manifest } = await finishAsUser(s, count - 1);
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, range(count)));
    expect(manifest.missing).toEqual([]);
  });

  it('out of order: the contiguous watermark waits for the hole, then catches up; the head is the same', async () => {
    const s = await launch();
    const count = fixturePieces().length;
    const order = [2, 0, 3, 1, ...range(count).slice(4).reverse()];
    const seen: Array<number | undefined> = [];
    for (const seq of order) {
      expect((await putFixture(s, seq)).status).toBe(201);
      seen.push((await chainProgress(s.sessionId))?.through);
    }
    // 2 alone: nothing contiguous yet; 0: through 0; 3: still 0; 1: 0..3 at once; then the tail arrives backwards.
    expect(seen.slice(0, 4)).toEqual([-1, 0, 0, 3]);
    expect(seen.at(-1)).toBe(count - 1);
    expect((await chainProgress(s.sessionId))?.head).toBe(await expectedHead(s.sessionId, range(count)));
    const { manifest } = await finishAsUser(s, count - 1);
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, range(count)));
  });

  it('a hole is listed as missing and skipped by the chain; the piece after it links to the one before', async () => {
    const s = await launch();
    await recordAndEnd(s, [0, 1, 3, 4], 5);
    const { manifest } = await signedManifest(s.sessionId);
    expect(manifest.missing).toEqual([
      { from: 2, to: 2 },
      { from: 5, to: 5 },
    ]);
    expect(manifest.lastSeq).toBe(5);
    expect(manifest.pieces.map((p) => p.seq)).toEqual([0, 1, 3, 4]);
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, [0, 1, 3, 4]));
    expect(manifest.chainHead).not.toBe(await expectedHead(s.sessionId, [0, 1, 2, 3, 4]));
    expect((await chainProgress(s.sessionId))?.through).toBe(1);
  });

  it('starts from the session-specific genesis link', async () => {
    const s = await launch();
    await putFixture(s, 1);
    expect(await chainProgress(s.sessionId)).toEqual({ head: await chainGenesis(s.sessionId), through: -1 });
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function finishAsUser(s: Launched, lastSeq: number): Promise<SignedManifest> {
  const launcher = await connectLauncher(s);
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq }));
  await launcher.nextJson();
  await runDurableObjectAlarm(stub(s.sessionId));
  return signedManifest(s.sessionId);
}

describe('signed manifest', () => {
  it("covers the session's activity: the digest of the events the activity API lists", async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const batch = await request(`/ingest/v1/sessions/${s.sessionId}/events/0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          { type: 'keys', atMs: 300, endMs: 900, text: 'whoami<Enter>', window: { title: 'xterm', app: 'xterm' } },
          { type: 'window.focus', atMs: 100, title: 'xterm', app: 'xterm' },
        ],
      }),
    });
    expect(batch.status).toBe(201);
    for (const seq of range(3)) await putFixture(s, seq);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 2 }));
    await launcher.nextJson();
    await sealNow(s.sessionId);
    const { manifest } = await signedManifest(s.sessionId);
    const listed = ((await (await api(`/sessions/${s.sessionId}/activity`)).json()) as { events: unknown[] }).events;
    expect(listed).toHaveLength(2);
    expect(manifest.activity).toEqual({ events: 2, sha256: await activityDigest(listed) });
  });

  it('ended by the user: pieces, recording digest, activity digest, all signed', async () => {
    const s = await launch({ user: 'bob', target: 'db-02.prod', protocol: 'ssh', format: 'webm' });
    const count = fixturePieces().length;
    await recordAndEnd(s, range(count), count - 1);
    const { manifest } = await signedManifest(s.sessionId);
    const recording = new Uint8Array(await (await api(`/sessions/${s.sessionId}/recording.webm`)).arrayBuffer());
    expect(manifest).toMatchObject({
      version: 2,
      sessionId: s.sessionId,
      user: 'bob',
      target: 'db-02.prod',
      protocol: 'ssh',
      endReason: 'ended_by_user',
      recordingStatus: 'ready',
      lastSeq: count - 1,
      recordingError: null,
      recording: {
        key: recordingKey(s.sessionId, 'webm'),
        size: recording.byteLength,
        sha256: await sha256Hex(recording),
      },
      activity: { events: 0, sha256: await activityDigest([]) },
    });
    expect(manifest.activity.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(manifest.recording?.mediaDurationMs).toBeGreaterThan(0);
    const fixtures = fixturePieces();
    for (const piece of manifest.pieces) {
      const fixture = fixtures[piece.seq]!;
      expect(piece).toEqual({
        seq: piece.seq,
        size: fixture.bytes.byteLength,
        sha256: await sha256Hex(fixture.bytes as Uint8Array<ArrayBuffer>),
        startMs: fixture.startMs,
        endMs: fixture.endMs,
        keyframe: fixture.keyframe,
      });
    }
    expect(Date.parse(manifest.signedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.endedAt!));
  });

  it('terminated by an admin', async () => {
    const s = await launch();
    for (const seq of [0, 1, 2]) await putFixture(s, seq);
    const res = await api(`/sessions/${s.sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: 'Stop.' }),
    });
    expect(res.status).toBe(200);
    await sealNow(s.sessionId);
    const { manifest } = await signedManifest(s.sessionId);
    expect(manifest).toMatchObject({ endReason: 'terminated_by_admin', recordingStatus: 'ready', missing: [] });
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, [0, 1, 2]));
  });

  it('launcher lost', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    for (const seq of [0, 1]) await putFixture(s, seq);
    launcher.ws.close(1001, 'gone');
    await expect
      .poll(async () => runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => state.storage.getAlarm()))
      .toBeLessThan(Date.now() + 61_000);
    await runInDurableObject(stub(s.sessionId), (_i: SessionDO, state) => {
      const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one();
      const record = JSON.parse(row.value) as { launcherLostAt: number | null };
      record.launcherLostAt = Date.now() - 1;
      state.storage.sql.exec(`UPDATE state SET value = ? WHERE key = 'session'`, JSON.stringify(record));
    });
    await evictDurableObject(stub(s.sessionId));
    await runDurableObjectAlarm(stub(s.sessionId));
    await sealNow(s.sessionId);
    const { manifest } = await signedManifest(s.sessionId);
    expect(manifest).toMatchObject({ endReason: 'launcher_lost', recordingStatus: 'ready' });
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, [0, 1]));
  });

  it('recording off: written when the session ends, with no recording and the genesis as chain head', async () => {
    const s = await launch({ policy: { recordingEnabled: false } });
    const launcher = await connectLauncher(s);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: null }));
    await launcher.nextJson();
    // The launcher hears `ended` before the object has told D1; the manifest is there once D1 knows.
    await expect.poll(async () => (await api(`/sessions/${s.sessionId}/manifest`)).status).toBe(200);
    const { manifest } = await signedManifest(s.sessionId);
    expect(manifest).toMatchObject({
      endReason: 'ended_by_user',
      recordingStatus: 'disabled',
      recording: null,
      pieces: [],
      missing: [],
      lastSeq: null,
      chainHead: await chainGenesis(s.sessionId),
    });
  });

  it('a failed seal still gets a manifest: no recording, the error, and the pieces that did arrive', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    await putFixture(s, 1);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 1 }));
    await launcher.nextJson();
    for (let attempt = 0; attempt < 4; attempt++) await sealNow(s.sessionId);
    const { manifest } = await signedManifest(s.sessionId);
    expect(manifest).toMatchObject({ recordingStatus: 'failed', recording: null, missing: [{ from: 0, to: 0 }] });
    expect(manifest.recordingError).toContain('init segment');
    expect(manifest.chainHead).toBe(await expectedHead(s.sessionId, [1]));
  });

  it('409 before the session is sealed, 404 for an unknown session', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    await putFixture(s, 0);
    let res = await api(`/sessions/${s.sessionId}/manifest`);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('not_sealed');
    // Ended but still in its grace period for late pieces: not sealed either.
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 3 }));
    await launcher.nextJson();
    res = await api(`/sessions/${s.sessionId}/manifest`);
    expect(res.status).toBe(409);
    expect(await env.RECORDINGS.head(manifestKey(s.sessionId))).toBeNull();
    res = await api(`/sessions/${crypto.randomUUID()}/manifest`);
    expect(res.status).toBe(404);
  });

  it('is written again from the object’s own records if storage lost it', async () => {
    const s = await launch();
    await recordAndEnd(s, [0, 1, 2], 2);
    const first = await signedManifest(s.sessionId);
    await env.RECORDINGS.delete(manifestKey(s.sessionId));
    const again = await signedManifest(s.sessionId);
    expect({ ...again.manifest, signedAt: '' }).toEqual({ ...first.manifest, signedAt: '' });
    expect(await env.RECORDINGS.head(manifestKey(s.sessionId))).not.toBeNull();
  });

  it('needs credentials', async () => {
    const s = await launch();
    const res = await api(`/sessions/${s.sessionId}/manifest`, { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
  });
});

describe('GET /api/v1/sessions/{id}/pieces/{seq}.webm', () => {
  it('serves the stored piece byte for byte', async () => {
    const s = await launch();
    await putFixture(s, 0);
    await putFixture(s, 2);
    const res = await api(`/sessions/${s.sessionId}/pieces/2.webm`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/webm');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(fixturePieces()[2]!.bytes);
    const padded = await api(`/sessions/${s.sessionId}/pieces/0000000000.webm`);
    expect(new Uint8Array(await padded.arrayBuffer())).toEqual(fixturePieces()[0]!.bytes);
    const missing = await api(`/sessions/${s.sessionId}/pieces/1.webm`);
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('piece_not_found');
    expect((await api(`/sessions/${s.sessionId}/pieces/1.mp4`)).status).toBe(400);
    expect((await api(`/sessions/${crypto.randomUUID()}/pieces/1.webm`)).status).toBe(404);
  });
});

describe('GET /api/v1/evidence/public-key', () => {
  it('publishes the signing key as raw base64 and SPKI PEM, with its keyId', async () => {
    const key = await serverKey();
    const raw = fromBase64(key.publicKey);
    expect(raw.byteLength).toBe(32);
    expect(key.keyId).toBe(await keyIdOf(raw));
    const der = fromBase64(key.pem.replace(/-----[A-Z ]+-----/g, ''));
    const imported = await crypto.subtle.importKey('spki', der, 'Ed25519', true, ['verify']);
    expect(new Uint8Array((await crypto.subtle.exportKey('raw', imported)) as ArrayBuffer)).toEqual(raw);
  });
});
