import { type ChildProcess, execFileSync, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { decodeMediaFrame, type MediaFrameHeader } from '../../protocol/viewer.ts';

export const root = path.resolve(import.meta.dirname, '../..');
export const { baseUrl, apiKey, adminPassword, display, state } = inject('e2e');

export function api(pathname: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${apiKey}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${baseUrl}/api/v1${pathname}`, { ...init, headers });
}

export interface LauncherRun {
  child: ChildProcess;
  sessionId: Promise<string>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  output: () => string;
}

/** Runs the real launcher CLI (`witness-launcher launch ...`). */
export function runLauncher(args: string[], env: Record<string, string> = {}): LauncherRun {
  const spool = mkdtempSync(path.join(tmpdir(), 'witness-e2e-spool-'));
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'agents/launcher/bin/witness-launcher.mjs'),
      'launch',
      '--server',
      baseUrl,
      '--api-key',
      apiKey,
      '--spool',
      spool,
      ...args,
    ],
    { env: { ...process.env, DISPLAY: display, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let found: (id: string) => void = () => {};
  const sessionId = new Promise<string>((resolve, reject) => {
    found = resolve;
    child.on('exit', () => reject(new Error(`launcher exited before printing a session id:\n${stdout}\n${stderr}`)));
  });
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d;
    const match = stdout.match(/session ([0-9a-f-]{36})/);
    if (match?.[1]) found(match[1]);
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, sessionId, exit, output: () => `${stdout}\n${stderr}` };
}

export interface LiveViewer {
  frames: Array<MediaFrameHeader & { receivedAt: number; bytes: number }>;
  texts: Array<Record<string, unknown>>;
  opened: Promise<void>;
  closed: Promise<number>;
  close: () => void;
}

/** Watches a session live over its WebSocket, as the console does. */
export function watchLive(sessionId: string): LiveViewer {
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/v1/sessions/${sessionId}/live`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  const viewer: LiveViewer = {
    frames: [],
    texts: [],
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`live socket refused: ${res.statusCode}`)));
    }),
    closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
    close: () => ws.close(),
  };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return void viewer.texts.push(JSON.parse(String(data)));
    const { header, media } = decodeMediaFrame(new Uint8Array(data as Buffer));
    viewer.frames.push({ ...header, receivedAt: Date.now(), bytes: media.byteLength });
  });
  return viewer;
}

export interface SessionView {
  status: string;
  endReason: string | null;
  startedAt: string | null;
  endedAt: string | null;
  recording: {
    status: string;
    pieces: number;
    missingPieces: unknown[];
    mediaDurationMs: number | null;
    url: string | null;
  };
}

export async function session(id: string): Promise<SessionView> {
  const res = await api(`/sessions/${id}`);
  if (!res.ok) throw new Error(`GET session ${res.status}`);
  return res.json() as Promise<SessionView>;
}

export function ffprobeDuration(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number(String(out).trim());
}

/** Starts an X program on the test display (an xterm, say), for the launcher to record. */
export function onDisplay(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { env: { ...process.env, DISPLAY: display }, stdio: 'ignore', detached: true });
}

export function kill(child: ChildProcess): void {
  if (child.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
}

export interface FetchedEvidence {
  /** The directory `witness fetch-evidence` wrote: manifest, recording, pieces/, activity.jsonl, the server's key. */
  dir: string;
  /** What `witness fetch-evidence` printed, and its exit code. */
  fetched: SpawnSyncReturns<string>;
  /** `witness verify` on it (recording, the server's key, the session), with the pieces and the activity if asked. */
  verify: (checks?: { pieces?: boolean; activity?: boolean }) => SpawnSyncReturns<string>;
  remove: () => void;
}

/** Runs the real `witness fetch-evidence` for `sessionId` into a fresh directory, for the real `witness verify`. */
export function fetchEvidence(sessionId: string, server = baseUrl, key = apiKey): FetchedEvidence {
  const cli = path.join(root, 'agents/verify/bin/witness.mjs');
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-e2e-evidence-'));
  const fetched = spawnSync(
    process.execPath,
    [cli, 'fetch-evidence', '--server', server, '--api-key', key, '--session', sessionId, '--out', dir],
    { encoding: 'utf8' },
  );
  const verify = (checks: { pieces?: boolean; activity?: boolean } = {}) =>
    spawnSync(
      process.execPath,
      [
        cli,
        'verify',
        ...['--manifest', path.join(dir, 'manifest.json'), '--recording', path.join(dir, 'recording.webm')],
        ...['--public-key', path.join(dir, 'server-public-key.pem'), '--session', sessionId],
        ...(checks.pieces ? ['--pieces', path.join(dir, 'pieces')] : []),
        ...(checks.activity ? ['--activity', path.join(dir, 'activity.jsonl')] : []),
      ],
      { encoding: 'utf8' },
    );
  return { dir, fetched, verify, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
