import { describe, expect, it } from 'vitest';
import { decodeMediaFrame } from '../../protocol/viewer.ts';
import {
  API_KEY,
  api,
  connectLauncher,
  errorCode,
  fixturePieces,
  launch,
  openSocket,
  putFixture,
  type TestSocket,
} from './helpers.ts';

async function watch(sessionId: string): Promise<TestSocket & { hello: Record<string, unknown> }> {
  const viewer = await openSocket(`/api/v1/sessions/${sessionId}/live`, API_KEY);
  const hello = await viewer.nextJson();
  expect(hello).toMatchObject({ type: 'hello', protocol: 1, sessionId });
  return { ...viewer, hello };
}

/** Reads frames until `count` media frames arrived; returns their seqs (text frames are collected apart). */
async function mediaSeqs(viewer: TestSocket, count: number, texts: unknown[] = []): Promise<number[]> {
  const seqs: number[] = [];
  while (seqs.length < count) {
    const frame = await viewer.next();
    if (typeof frame === 'string') texts.push(JSON.parse(frame));
    else seqs.push(decodeMediaFrame(new Uint8Array(frame)).header.seq);
  }
  return seqs;
}

describe('GET /api/v1/sessions/{id}/live', () => {
  it('fans each stored piece out to every viewer, byte for byte, in sequence order', async () => {
    const s = await launch();
    await connectLauncher(s);
    const a = await watch(s.sessionId);
    const b = await watch(s.sessionId);
    const pieces = fixturePieces();
    for (const seq of [0, 1, 3, 2, 4]) await putFixture(s, seq);
    for (const viewer of [a, b]) {
      const frames: Array<{ seq: number; media: Uint8Array; storedAt: number }> = [];
      while (frames.length < 5) {
        const frame = await viewer.next();
        if (typeof frame === 'string') continue;
        const { header, media } = decodeMediaFrame(new Uint8Array(frame));
        frames.push({ seq: header.seq, media, storedAt: header.storedAt });
      }
      expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
      for (const f of frames) expect(f.media).toEqual(pieces[f.seq]?.bytes);
      expect(frames.every((f) => f.storedAt <= Date.now())).toBe(true);
    }
  });

  it('gives a viewer who joins mid-session the init segment and the pieces since the last keyframe', async () => {
    const s = await launch();
    await connectLauncher(s);
    const pieces = fixturePieces();
    const last = pieces.length - 2;
    for (let seq = 0; seq <= last; seq++) await putFixture(s, seq);
    let keyframe = last;
    while (!pieces[keyframe]?.keyframe) keyframe--;
    expect(keyframe).toBeGreaterThan(1); // the fixture has a keyframe past the first cluster
    const viewer = await watch(s.sessionId);
    const expected = [0];
    for (let seq = keyframe; seq <= last; seq++) expected.push(seq);
    expect(await mediaSeqs(viewer, expected.length)).toEqual(expected);
    await putFixture(s, last + 1);
    expect(await mediaSeqs(viewer, 1)).toEqual([last + 1]);
  });

  it('skips a hole that stays open, from the next keyframe on, and says so', async () => {
    const s = await launch();
    await connectLauncher(s);
    const pieces = fixturePieces();
    const viewer = await watch(s.sessionId);
    await putFixture(s, 0);
    await putFixture(s, 1);
    expect(await mediaSeqs(viewer, 2)).toEqual([0, 1]);
    for (let seq = 3; seq < pieces.length; seq++) await putFixture(s, seq);
    let resume = 3;
    while (!pieces[resume]?.keyframe) resume++;
    const texts: unknown[] = [];
    const seqs = await mediaSeqs(viewer, pieces.length - resume, texts);
    expect(seqs[0]).toBe(resume);
    expect(texts).toContainEqual({ type: 'gap', fromSeq: 2, toSeq: resume - 1 });
  });

  it('tells viewers who else is watching', async () => {
    const s = await launch();
    await connectLauncher(s);
    const a = await watch(s.sessionId);
    expect(a.hello.viewers).toMatchObject([{ name: 'bootstrap key' }]);
    const b = await watch(s.sessionId);
    expect((b.hello.viewers as unknown[]).length).toBe(2);
    const update = await a.nextJson<{ type: string; viewers: Array<{ name: string }> }>();
    expect(update.type).toBe('viewers');
    expect(update.viewers.map((v) => v.name)).toEqual(['bootstrap key', 'bootstrap key']);
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { live: { viewers: unknown[] } };
    expect(view.live.viewers).toHaveLength(2);
  });

  it('a tab that reconnects replaces its old socket instead of counting twice', async () => {
    const s = await launch();
    await connectLauncher(s);
    const tab = 'tab-0123456789';
    const first = await openSocket(`/api/v1/sessions/${s.sessionId}/live?tab=${tab}`, API_KEY);
    expect(await first.nextJson()).toMatchObject({ type: 'hello' });
    const other = await openSocket(`/api/v1/sessions/${s.sessionId}/live?tab=tab-other-tab`, API_KEY);
    expect(((await other.nextJson()) as { viewers: unknown[] }).viewers).toHaveLength(2);
    const again = await openSocket(`/api/v1/sessions/${s.sessionId}/live?tab=${tab}`, API_KEY);
    const hello = (await again.nextJson()) as { type: string; viewers: unknown[] };
    expect(hello.type).toBe('hello');
    expect(hello.viewers).toHaveLength(2); // the other tab and this one, not the replaced socket
    expect((await first.closed).code).toBe(4001);
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { live: { viewers: unknown[] } };
    expect(view.live.viewers).toHaveLength(2);

    const bad = await api(`/sessions/${s.sessionId}/live?tab=${encodeURIComponent('<x>')}`, {
      headers: { upgrade: 'websocket' },
    });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('invalid_query');
  });

  it('tells the remaining viewers when one leaves', async () => {
    const s = await launch();
    await connectLauncher(s);
    const a = await watch(s.sessionId);
    const b = await watch(s.sessionId);
    expect((await a.nextJson<{ viewers: unknown[] }>()).viewers).toHaveLength(2);
    b.ws.close(1000, 'bye');
    const after = await a.nextJson<{ type: string; viewers: unknown[] }>();
    expect(after).toMatchObject({ type: 'viewers' });
    expect(after.viewers).toHaveLength(1);
  });

  it('answers a viewer that sends something with an error and keeps the stream', async () => {
    const s = await launch();
    await connectLauncher(s);
    const viewer = await watch(s.sessionId);
    viewer.ws.send('{"type":"delete"}');
    expect(await viewer.nextJson()).toMatchObject({ type: 'error', code: 'unexpected_message' });
    await putFixture(s, 0);
    expect(await mediaSeqs(viewer, 1)).toEqual([0]);
  });

  it('closes viewers when the session ends, and refuses new ones', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    const viewer = await watch(s.sessionId);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: null }));
    const texts: unknown[] = [];
    while ((texts.at(-1) as { type?: string } | undefined)?.type !== 'ended') {
      const m = await viewer.next();
      if (typeof m === 'string') texts.push(JSON.parse(m));
    }
    expect(texts.at(-1)).toEqual({ type: 'ended', reason: 'ended_by_user' });
    expect((await viewer.closed).code).toBe(4000);
    const late = await api(`/sessions/${s.sessionId}/live`, { headers: { upgrade: 'websocket' } });
    expect(late.status).toBe(409);
    expect(await errorCode(late)).toBe('session_ended');
  });

  it('needs an API key: an ingest token cannot watch', async () => {
    const s = await launch();
    const res = await openSocket(`/api/v1/sessions/${s.sessionId}/live`, s.token).catch((e: Error) => e);
    expect(String(res)).toContain('401');
  });
});
