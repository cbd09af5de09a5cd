/**
 * The stalled-upload interleaving against the server `npm start` runs: upload A of piece 1 sends 100 bytes and
 * stalls; upload B of piece 1, with the real bytes, is retried until it is acknowledged; then A finishes. A must
 * be refused, and the server, the sealed recording and `witness verify` (with and without the pieces) must all
 * hold B. (The interleaving past the lease itself is driven in workerd: test/workers/piece-commit.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MediaPiece, WebmSplitter } from '../../agents/launcher/src/webm-splitter.ts';
import { api, baseUrl, fetchEvidence, session } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';

/** A few seconds of live WebM cut into pieces, as the launcher cuts it. */
function recordPieces(): MediaPiece[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-e2e-race-'));
  const file = path.join(dir, 'live.webm');
  const ffmpeg = spawnSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=4', '-t', '4'],
    ...['-c:v', 'libvpx', '-deadline', 'realtime', '-g', '4', '-f', 'webm', '-live', '1'],
    ...['-cluster_time_limit', '750', file],
  ]);
  if (ffmpeg.status !== 0) throw new Error(`ffmpeg failed: ${ffmpeg.stderr}`);
  const splitter = new WebmSplitter({ frameDurationMs: 250 });
  const pieces = [...splitter.push(new Uint8Array(readFileSync(file))), ...splitter.end()];
  rmSync(dir, { recursive: true, force: true });
  return pieces;
}

function pieceHeaders(token: string, piece: MediaPiece): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'video/webm',
    'content-length': String(piece.bytes.byteLength),
    'x-witness-keyframe': piece.keyframe ? '1' : '0',
    'x-witness-start-ms': String(piece.startMs),
    'x-witness-end-ms': String(piece.endMs),
  };
}

function put(sessionId: string, token: string, seq: number, piece: MediaPiece): Promise<Response> {
  return fetch(`${baseUrl}/ingest/v1/sessions/${sessionId}/pieces/${seq}`, {
    method: 'PUT',
    headers: pieceHeaders(token, piece),
    body: Uint8Array.from(piece.bytes),
  });
}

/** A PUT that sends its first `first` bytes now and the rest when `finish()` is called. */
function stalledPut(sessionId: string, token: string, seq: number, piece: MediaPiece, first = 100) {
  const url = new URL(`${baseUrl}/ingest/v1/sessions/${sessionId}/pieces/${seq}`);
  const req = httpRequest(url, { method: 'PUT', headers: pieceHeaders(token, piece) });
  const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write(piece.bytes.subarray(0, first));
  return { reply, finish: () => req.end(piece.bytes.subarray(first)) };
}

describe('an upload that stalls past its lease while another is acknowledged', () => {
  it('is refused; the acknowledged bytes stay, and the sealed evidence verifies with and without the pieces', async () => {
    const pieces = recordPieces();
    expect(pieces.length).toBeGreaterThan(3);
    const launched = await api('/launches', {
      method: 'POST',
      body: JSON.stringify({ user: 'race', target: 'race-host' }),
    });
    const { sessionId, token } = (await launched.json()) as { sessionId: string; token: string };
    expect((await put(sessionId, token, 0, pieces[0] as MediaPiece)).status).toBe(201);

    // A: other content as piece 1 (a later Cluster), 100 bytes, then nothing.
    const a = stalledPut(sessionId, token, 1, pieces[2] as MediaPiece);
    // B: the real piece 1, retried as a launcher would until A's lease runs out.
    const b = await waitFor(
      'upload B to be acknowledged',
      async () => {
        const res = await put(sessionId, token, 1, pieces[1] as MediaPiece);
        if (res.status === 409) {
          const { error } = (await res.json()) as { error: { code: string } };
          expect(error.code).toBe('upload_in_progress');
          return null;
        }
        return res;
      },
      { timeoutMs: 150_000 },
    );
    expect(b.status).toBe(201);
    a.finish();
    // Refused either way: cut off as a stalled body (408, the local server bounds how long a body may stall) or,
    // if its bytes got through, because it lost its claim (409). Never acknowledged.
    const refused = await a.reply;
    expect(refused.body, `HTTP ${refused.status}`).toMatch(/^\{"error"/);
    const code = (JSON.parse(refused.body) as { error: { code: string } }).error.code;
    expect(`${refused.status} ${code}`).toMatch(/^(409 (seq_conflict|upload_superseded)|408 \w+)$/);

    // What the server serves as piece 1 is B.
    const served = await api(`/sessions/${sessionId}/pieces/1.webm`);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(pieces[1]?.bytes);
    for (let seq = 2; seq < pieces.length; seq++)
      expect((await put(sessionId, token, seq, pieces[seq] as MediaPiece)).status).toBe(201);

    const ended = await api(`/sessions/${sessionId}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: 'race test done' }),
    });
    expect(ended.status).toBe(200);
    await waitFor(
      'the recording to be sealed',
      async () =>
        (await session(sessionId)).recording.status !== 'finalizing' &&
        (await session(sessionId)).recording.status !== 'recording',
      { timeoutMs: 120_000 },
    );
    expect((await session(sessionId)).recording.status).toBe('ready');

    const evidence = fetchEvidence(sessionId);
    expect(evidence.fetched.status, evidence.fetched.stderr).toBe(0);
    for (const withPieces of [true, false]) {
      const result = evidence.verify({ pieces: withPieces });
      expect(result.stdout).toMatch(/ok {4}contents/);
      expect(result.stdout.trim().split('\n').at(-1), result.stdout).toBe('VERIFIED');
      expect(result.status).toBe(0);
    }
    evidence.remove();
  });
});
