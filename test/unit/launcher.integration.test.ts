/**
 * The real launcher CLI (real ffmpeg, testsrc) against the fake Witness server, with injected failures:
 * a 503 on the first PUT of some pieces, an expired token, a dropped control socket, a terminate.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSession, FakeWitness, type FakeWitnessOptions } from '../support/fake-witness.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = fileURLToPath(new URL('../../agents/launcher/bin/witness-launcher.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its exit; one still running after `timeoutMs` is killed and the test fails. */
function runLauncher(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 25_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    // No DISPLAY: admin messages must not open dialogs on the tester's screen.
    const { DISPLAY: _display, ...inherited } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...inherited, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launcher did not exit in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Video duration in seconds from the packets (a live WebM has no Duration element). */
function probeDuration(file: string): { seconds: number; frames: number } {
  const result = spawnSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-of', 'json', file],
    {
      encoding: 'utf8',
    },
  );
  expect(result.status, result.stderr).toBe(0);
  const packets = (JSON.parse(result.stdout) as { packets: { pts_time: string; duration_time?: string }[] }).packets;
  const last = packets.at(-1);
  return { seconds: Number(last?.pts_time) + Number(last?.duration_time ?? 0), frames: packets.length };
}

describe('witness-launcher against a fake Witness server', () => {
  let server: FakeWitness;
  let dir: string;
  const start = async (options: FakeWitnessOptions) => {
    server = new FakeWitness(options);
    await server.start();
  };
  /** A desktop session launched elsewhere, for `witness-launcher record`. */
  const launched = (): { session: FakeSession; token: string } => {
    const session = server.createSession('alice', 'db-01', 'desktop');
    return { session, token: server.token(session) };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'witness-launcher-'));
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('launches, records 4 s and delivers every piece exactly once despite a 503, an expired token and a dropped socket', async () => {
    // Tokens live 3 s, so the launcher also renews ahead of expiry (at 2 s) during the run.
    await start({ failFirstPutOf: [1, 3], expireTokenAtSeq: 2, dropControlAfterSeq: 1, tokenLifetimeMs: 3000 });
    const run = await runLauncher([
      'launch',
      '--server',
      server.url,
      '--api-key',
      'key-1',
      '--user',
      'alice',
      '--target',
      'db-1',
      '--protocol',
      'ssh',
      '--source',
      'testsrc',
      '--fps',
      '5',
      '--seconds',
      '4',
      '--spool',
      dir,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const session = server.soleSession();
    expect(run.stdout).toBe(`session ${session.id}\n`);
    expect(session).toMatchObject({ user: 'alice', target: 'db-1', protocol: 'ssh', format: 'webm' });

    // Pieces 0..N, each acknowledged exactly once, in full (the fake checks Content-Length and headers).
    const recording = server.recording(session);
    const lastSeq = Math.max(...session.pieces.keys());
    expect(lastSeq).toBeGreaterThanOrEqual(3);
    for (const seq of session.pieces.keys()) {
      expect(
        session.puts.filter((p) => p.seq === seq && p.status < 300),
        `acks of ${seq}`,
      ).toHaveLength(1);
    }
    expect(session.puts.filter((p) => [400, 409, 415, 422].includes(p.status))).toEqual([]);
    // The 503s were retried.
    for (const seq of [1, 3])
      expect(session.puts.filter((p) => p.seq === seq).map((p) => p.status)).toEqual([503, 201]);
    // The expired token was renewed over the control socket and the retry used the new one.
    const [expired, retried] = session.puts.filter((p) => p.seq === 2);
    expect(expired?.status).toBe(401);
    expect(retried?.status).toBe(201);
    expect(retried?.token).not.toBe(expired?.token);
    expect(server.messages(session, 'renew').length).toBeGreaterThanOrEqual(2);
    expect(new Set(session.puts.map((p) => p.token)).size).toBeGreaterThanOrEqual(3);

    // The control socket dropped once piece 1 was stored, and came back with a new hello.
    expect(session.controlConnections).toBeGreaterThanOrEqual(2);
    const hellos = session.received.filter((r) => r.message.type === 'hello');
    expect(hellos.map((h) => h.connection)).toEqual(
      Array.from({ length: session.controlConnections }, (_, i) => i + 1),
    );
    expect(hellos[0]?.message).toMatchObject({
      protocol: 1,
      launcher: { name: 'witness-launcher' },
      reportsActivity: false,
    });
    expect(server.messages(session, 'end')).toEqual([{ type: 'end', lastSeq }]);
    expect(session.invalidFrames).toEqual([]);

    // Metadata: seq 0 is the header; clusters start at 0 and follow each other.
    const pieces = [...session.pieces.entries()].sort(([a], [b]) => a - b).map(([, p]) => p);
    expect(pieces[0]).toMatchObject({ keyframe: false, startMs: 0, endMs: 0 });
    expect(pieces[1]).toMatchObject({ keyframe: true, startMs: 0 });
    for (let i = 2; i < pieces.length; i++) expect(pieces[i]?.startMs).toBe(pieces[i - 1]?.endMs);

    // Concatenated, the pieces are one playable WebM of about 4 s.
    const file = join(dir, 'recording.webm');
    writeFileSync(file, recording);
    const { seconds, frames } = probeDuration(file);
    expect(seconds).toBeGreaterThan(2.8);
    expect(seconds).toBeLessThan(5.5);
    expect(Math.abs(seconds - (pieces.at(-1)?.endMs ?? 0) / 1000)).toBeLessThan(0.25);
    expect(frames).toBeGreaterThanOrEqual(14);
    const decode = spawnSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
    expect(decode.status, decode.stderr).toBe(0);

    // Nothing is left in the spool.
    expect(readdirSync(dir)).toEqual(['recording.webm']);
  });

  it('on terminate prints the message, stops the recorded program, uploads the rest and exits 3', async () => {
    await start({ messageAfterSeq: 1, terminateAfterSeq: 3 });
    const { session, token } = launched();
    const pidFile = join(dir, 'program.pid');
    // No --seconds and a program that sleeps a minute: only the terminate ends this run before runLauncher's
    // 25 s limit kills it (and fails the test).
    const run = await runLauncher([
      'record',
      '--server',
      server.url,
      '--session',
      session.id,
      '--token',
      token,
      '--source',
      'testsrc',
      '--fps',
      '2',
      '--spool',
      join(dir, 'spool'),
      '--',
      'sh',
      '-c',
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('[witness] Message from administrator: Please save your work');
    expect(run.stderr).toContain('Policy violation: session closed by security');
    expect(server.messages(session, 'delivered').map((m) => m.id)).toEqual(['cmd-message', 'cmd-terminate']);
    const [end] = server.messages(session, 'end');
    server.recording(session);
    expect(end?.lastSeq).toBe(Math.max(...session.pieces.keys()));
    expect(end?.lastSeq).toBeGreaterThanOrEqual(3);
    expect(session.ended).toBe('terminated_by_admin');
    // The recorded program is gone.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('exits 4 with the reason when the server ends the session', async () => {
    await start({});
    const { session, token } = launched();
    const running = runLauncher([
      'record',
      '--server',
      server.url,
      '--session',
      session.id,
      '--token',
      token,
      '--source',
      'testsrc',
      '--fps',
      '2',
      '--seconds',
      '20',
      '--spool',
      dir,
    ]);
    await waitFor('three pieces stored', () => session.pieces.size >= 3, { timeoutMs: 20_000 });
    server.end(session, 'inactivity_timeout');
    const run = await running;
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toContain('inactivity_timeout');
    server.recording(session);
  });

  it('keeps the control socket but captures nothing when the policy turns recording off', async () => {
    await start({ policy: { recordingEnabled: false } });
    const { session, token } = launched();
    const run = await runLauncher([
      'record',
      '--server',
      server.url,
      '--session',
      session.id,
      '--token',
      token,
      '--source',
      'testsrc',
      '--seconds',
      '1',
      '--spool',
      dir,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(session.pieces.size).toBe(0);
    expect(session.puts).toEqual([]);
    expect(server.messages(session, 'end')).toEqual([{ type: 'end', lastSeq: null }]);
  });

  it('drops and reopens a control socket whose heartbeats go unanswered', async () => {
    await start({ policy: { recordingEnabled: false }, ignorePings: true });
    const { session, token } = launched();
    const run = await runLauncher(
      [
        'record',
        '--server',
        server.url,
        '--session',
        session.id,
        '--token',
        token,
        '--source',
        'testsrc',
        '--seconds',
        '2.5',
        '--spool',
        dir,
      ],
      { WITNESS_HEARTBEAT_MS: '200' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('no heartbeat answer');
    expect(session.pings).toBeGreaterThanOrEqual(2);
    expect(session.controlConnections).toBeGreaterThanOrEqual(2);
    expect(server.messages(session, 'end')).toHaveLength(1);
  });

  it('exits 5 naming the pieces left in the spool when the server keeps failing', async () => {
    // Every PUT after the init segment fails with 503.
    await start({ unavailable: (seq) => seq > 0 });
    const { session, token } = launched();
    const run = await runLauncher([
      'record',
      '--server',
      server.url,
      '--session',
      session.id,
      '--token',
      token,
      '--source',
      'testsrc',
      '--fps',
      '2',
      '--seconds',
      '2',
      '--drain-timeout',
      '1',
      '--spool',
      dir,
    ]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/pieces not stored on the server: seq 1-\d+/);
    const left = readdirSync(join(dir, session.id)).filter((f) => f.endsWith('.webm'));
    expect(left.length).toBeGreaterThanOrEqual(2);
    expect(left).not.toContain('0000000000.webm');
  });

  it('prints the server error and exits 1 when the launch is refused', async () => {
    await start({ refuseLaunch: { status: 403, code: 'forbidden', message: 'user alice may not reach db-1' } });
    const run = await runLauncher([
      'launch',
      '--server',
      server.url,
      '--api-key',
      'key-1',
      '--user',
      'alice',
      '--target',
      'db-1',
      '--source',
      'testsrc',
      '--spool',
      dir,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('launch refused (HTTP 403) forbidden: user alice may not reach db-1');
    expect(run.stdout).toBe('');
    // Nothing was launched, so nothing was spooled.
    expect(server.sessions.size).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps trying an unreachable server for --connect-timeout, then exits 1 saying the session stays pending', async () => {
    // A port nothing listens on (fetch refuses port 1 before connecting).
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const { port } = spare.address() as AddressInfo;
    await new Promise((resolve) => spare.close(resolve));
    const closed = `http://127.0.0.1:${port}`;
    const record = await runLauncher([
      'record',
      '--server',
      closed,
      '--session',
      'sess-down',
      '--token',
      't',
      '--source',
      'testsrc',
      '--spool',
      dir,
      '--connect-timeout',
      '3',
    ]);
    expect(record.code).toBe(1);
    expect(record.stderr).toMatch(/warning: .*; trying again in \d+\.\d s/);
    expect(record.stderr).toContain(
      `no answer from ${closed} on the control socket for 3 s; session sess-down was not recorded and stays pending`,
    );
    const launch = await runLauncher([
      'launch',
      '--server',
      closed,
      '--api-key',
      'k',
      '--user',
      'alice',
      '--target',
      'db-1',
      '--source',
      'testsrc',
      '--spool',
      dir,
      '--connect-timeout',
      '2',
    ]);
    expect(launch.code).toBe(1);
    expect(launch.stderr).toContain(`warning: cannot reach ${closed}: fetch failed (ECONNREFUSED); trying again in`);
    expect(launch.stderr).toContain('gave up after 2 s (--connect-timeout)');
    expect(launch.stdout).toBe('');
  });

  it('exits 1 with usage on bad arguments and when the control socket is refused', async () => {
    const bad = await runLauncher([
      'record',
      '--server',
      'http://127.0.0.1:1',
      '--session',
      's',
      '--token',
      't',
      '--fps',
      'x',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--fps');
    expect(bad.stderr).toContain('Usage:');
    await start({});
    const { session } = launched();
    const refused = await runLauncher([
      'record',
      '--server',
      server.url,
      '--session',
      session.id,
      '--token',
      'forged',
      '--source',
      'testsrc',
      '--spool',
      dir,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 401 invalid_token');
    expect(server.refusedUpgrades).toBe(1);
  });
});
