import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { BufferSource, Input, WEBM } from 'mediabunny';
import { describe, expect, it } from 'vitest';
import { recordingKey } from '../../protocol/ingest.ts';
import { EbmlId, readElementHeader } from '../../protocol/webm.ts';
import { PART_BYTES, RecordingWriter } from '../../durable/recording-writer.ts';
import { api, connectLauncher, errorCode, fixturePieces, launch, putFixture, sealNow } from './helpers.ts';

const INFO = 0x1549a966;
const DURATION = 0x4489;

/** IDs of the Segment's children, and the Info's Duration if present. */
function segmentLayout(bytes: Uint8Array): { children: number[]; duration: number | null } {
  const ebml = readElementHeader(bytes, 0)!;
  let at = ebml.headerLength + ebml.size!;
  const segment = readElementHeader(bytes, at)!;
  at += segment.headerLength;
  const children: number[] = [];
  let duration: number | null = null;
  while (at < bytes.length) {
    const child = readElementHeader(bytes, at)!;
    children.push(child.id);
    if (child.id === INFO) {
      for (let i = at + child.headerLength; i < at + child.headerLength + child.size!; ) {
        const field = readElementHeader(bytes, i)!;
        if (field.id === DURATION) {
          const view = new DataView(bytes.buffer, bytes.byteOffset + i + field.headerLength, field.size!);
          duration = field.size === 4 ? view.getFloat32(0) : view.getFloat64(0);
        }
        i += field.headerLength + field.size!;
      }
    }
    at += child.headerLength + (child.size ?? 0);
  }
  return { children, duration };
}

async function recordWhole(): Promise<string> {
  const s = await launch();
  const launcher = await connectLauncher(s);
  const pieces = fixturePieces();
  for (let seq = 0; seq < pieces.length; seq++) expect((await putFixture(s, seq)).status).toBe(201);
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: pieces.length - 1 }));
  await launcher.nextJson();
  await runDurableObjectAlarm(env.SESSIONS.getByName(s.sessionId));
  return s.sessionId;
}

describe('GET /api/v1/sessions/{id}/recording.webm', () => {
  it('serves a seekable WebM with Duration and Cues holding every recorded frame', async () => {
    const id = await recordWhole();
    const res = await api(`/sessions/${id}/recording.webm`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/webm');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);

    const layout = segmentLayout(bytes);
    expect(layout.children).toContain(EbmlId.cues);
    expect(layout.children).toContain(EbmlId.cluster);
    const { fps, seconds } = (await import('vitest')).inject('webm');
    expect(layout.duration).not.toBeNull();
    expect(Math.abs((layout.duration as number) - seconds * 1000)).toBeLessThanOrEqual(1000 / fps + 1);

    // Every recorded frame is there, unchanged in number: count packets in the pieces and in the result.
    const input = new Input({ source: new BufferSource(bytes), formats: [WEBM] });
    const track = await input.getPrimaryVideoTrack();
    expect(track?.codec).toBe('vp8');
    expect(await input.computeDuration()).toBeCloseTo(seconds, 0);
    const session = (await (await api(`/sessions/${id}`)).json()) as { recording: Record<string, unknown> };
    expect(session.recording).toMatchObject({
      status: 'ready',
      recordingBytes: bytes.byteLength,
      url: `/api/v1/sessions/${id}/recording.webm`,
    });
    expect(Math.abs((session.recording.mediaDurationMs as number) - seconds * 1000)).toBeLessThanOrEqual(
      1000 / fps + 1,
    );
  });

  it('answers byte ranges with 206 and the exact bytes', async () => {
    const id = await recordWhole();
    const whole = new Uint8Array(await (await api(`/sessions/${id}/recording.webm`)).arrayBuffer());
    const res = await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=100-1099' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${whole.byteLength}`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(whole.subarray(100, 1100));

    const tail = await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=-500' } });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(whole.subarray(whole.byteLength - 500));

    const open = await api(`/sessions/${id}/recording.webm`, { headers: { range: `bytes=${whole.byteLength - 10}-` } });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(whole.subarray(whole.byteLength - 10));

    const beyond = await api(`/sessions/${id}/recording.webm`, { headers: { range: `bytes=${whole.byteLength}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${whole.byteLength}`);

    const head = await api(`/sessions/${id}/recording.webm`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(whole.byteLength));
  });

  it('audits one viewing per play (not per range) and each download', async () => {
    const id = await recordWhole();
    await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=0-' } });
    await api(`/sessions/${id}/recording.webm`, { headers: { range: 'bytes=2000-2999' } });
    const download = await api(`/sessions/${id}/recording.webm?download=1`);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="witness-${id}.webm"`);
    const audit = (await (await api(`/audit?target=${id}`)).json()) as { entries: Array<{ action: string }> };
    expect(audit.entries.map((e) => e.action)).toEqual([
      'recording.downloaded',
      'recording.viewed',
      'session.launched',
    ]);
  });

  it('says when the recording is not ready yet, and 404s an unknown session', async () => {
    const s = await launch();
    await putFixture(s, 0);
    const res = await api(`/sessions/${s.sessionId}/recording.webm`);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('recording_not_ready');
    const unknown = await api(`/sessions/${crypto.randomUUID()}/recording.webm`);
    expect(unknown.status).toBe(404);
    const malformed = await api('/sessions/not-a-uuid/recording.webm');
    expect(malformed.status).toBe(400);
  });

  it('marks the recording failed, loudly, when the init segment never arrived', async () => {
    const s = await launch();
    const launcher = await connectLauncher(s);
    await putFixture(s, 1);
    launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: 1 }));
    await launcher.nextJson();
    // Sealing is retried (10 s, 1 min, 5 min) before the recording is declared failed.
    for (let attempt = 0; attempt < 4; attempt++) await sealNow(s.sessionId);
    const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { recording: Record<string, unknown> };
    expect(view.recording).toMatchObject({ status: 'failed', url: null });
    expect(String(view.recording.error)).toContain('init segment');
    expect(await env.RECORDINGS.head(recordingKey(s.sessionId, 'webm'))).toBeNull();
  });
});

describe('RecordingWriter', () => {
  it('stores a file larger than one part as a multipart object, with patches to the first part applied', async () => {
    const key = `test/${crypto.randomUUID()}.bin`;
    const writer = new RecordingWriter(env.RECORDINGS, key);
    const total = PART_BYTES * 3 + 12345;
    const expected = new Uint8Array(total);
    for (let i = 0; i < total; i++) expected[i] = (i * 31) & 0xff;
    for (let at = 0; at < total; at += 100_000)
      await writer.write(expected.subarray(at, Math.min(total, at + 100_000)), at);
    const patch = new Uint8Array([9, 9, 9, 9]);
    await writer.write(patch, 40);
    expected.set(patch, 40);
    expect(await writer.finish()).toBe(total);
    const object = await env.RECORDINGS.get(key);
    const stored = new Uint8Array(await object!.arrayBuffer());
    expect(stored.byteLength).toBe(total);
    // Compare digests: a deep equality over 24 MiB would exhaust the test isolate's heap.
    const digest = async (b: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));
    expect(await digest(stored)).toEqual(await digest(expected));
    expect(stored.subarray(38, 46)).toEqual(expected.subarray(38, 46));
  });

  it('refuses to rewrite bytes that were already uploaded', async () => {
    const writer = new RecordingWriter(env.RECORDINGS, `test/${crypto.randomUUID()}.bin`);
    const chunk = new Uint8Array(1024 * 1024);
    for (let at = 0; at < PART_BYTES * 3; at += chunk.byteLength) await writer.write(chunk, at);
    await expect(writer.write(new Uint8Array(4), PART_BYTES + 10)).rejects.toThrow(/after they were uploaded/);
    await writer.abort();
  });
});
