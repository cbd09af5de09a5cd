import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, ffprobeDuration, kill, onDisplay, runLauncher, session, watchLive } from './helpers.ts';
import { waitFor } from '../support/wait-for.ts';

const RECORD_SECONDS = 10;

describe('recording a real X desktop end to end', () => {
  const xterm = onDisplay('xterm', [
    '-geometry',
    '100x30+0+0',
    '-e',
    'sh',
    '-c',
    'while true; do date +%T.%N; sleep 0.2; done',
  ]);
  afterAll(() => kill(xterm));

  it('streams live to a viewer while recording, then serves a seekable recording.webm', async () => {
    const started = Date.now();
    const launcher = runLauncher([
      '--user',
      'e2e-admin',
      '--target',
      'xvfb-desktop',
      '--source',
      'x11',
      '--seconds',
      String(RECORD_SECONDS),
    ]);
    const sessionId = await launcher.sessionId;
    const viewer = watchLive(sessionId);
    await viewer.opened;

    // While it records (the viewer has had pieces after the init segment), type into the terminal so the
    // screen changes.
    await waitFor('the live viewer to receive pieces', () => viewer.frames.length >= 3, { timeoutMs: 30_000 });
    execFileSync(
      'xdotool',
      ['search', '--class', 'xterm', 'windowfocus', '--sync', 'type', '--delay', '50', 'echo witness-e2e'],
      {
        env: { ...process.env, DISPLAY: (await import('./helpers.ts')).display },
      },
    );

    const { code, stderr } = await launcher.exit;
    expect(code, stderr).toBe(0);
    const exitedAt = Date.now();

    // The viewer saw the init segment first, then pieces in order, and saw them while the launcher ran.
    const seqs = viewer.frames.map((f) => f.seq);
    expect(seqs[0]).toBe(0);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.length).toBeGreaterThanOrEqual(RECORD_SECONDS - 2);
    const duringRecording = viewer.frames.filter((f) => f.receivedAt < exitedAt - 2000);
    expect(duringRecording.length).toBeGreaterThanOrEqual(5);

    const sealed = await waitFor('the recording to be sealed', async () => {
      const view = await session(sessionId);
      return view.recording.status === 'ready' ? view : null;
    });
    expect(sealed).toMatchObject({ status: 'ended', endReason: 'ended_by_user' });
    expect(sealed.recording.missingPieces).toEqual([]);
    viewer.close();

    const res = await api(`/sessions/${sessionId}/recording.webm`);
    expect(res.status).toBe(200);
    const dir = mkdtempSync(path.join(tmpdir(), 'witness-e2e-rec-'));
    const file = path.join(dir, 'recording.webm');
    writeFileSync(file, new Uint8Array(await res.arrayBuffer()));

    // N seconds of video at least, counted from the first frame; a loaded machine stops ffmpeg a little
    // late and the screen is recorded until it does, but never for longer than the launcher ran.
    const duration = ffprobeDuration(file);
    expect(duration).toBeGreaterThanOrEqual(RECORD_SECONDS - 1);
    expect(duration).toBeLessThanOrEqual((exitedAt - started) / 1000);
    expect(Math.abs(duration * 1000 - (sealed.recording.mediaDurationMs ?? 0))).toBeLessThanOrEqual(1000);

    // Seek to the middle and decode one frame.
    const frame = path.join(dir, 'middle.png');
    execFileSync('ffmpeg', ['-v', 'error', '-ss', String(duration / 2), '-i', file, '-frames:v', '1', '-y', frame]);
    expect(statSync(frame).size).toBeGreaterThan(1000);

    // The file is served in ranges, as a player seeking through it asks.
    const ranged = await api(`/sessions/${sessionId}/recording.webm`, { headers: { range: 'bytes=0-1023' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(1024);
  });
});
