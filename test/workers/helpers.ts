/** Test helpers: drive the Worker as launchers and admins do, through its real fetch handler. */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { pieceKey, piecesPrefix } from '../../protocol/ingest.ts';
import type { RecordingFormat } from '../../protocol/session.ts';
import { inject } from 'vitest';
import type { FixturePiece } from './fixtures/global-setup.ts';

export const API_KEY = 'test-api-key';
const BASE = 'https://witness.test';

export function request(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${API_KEY}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return request(`/api/v1${path}`, { ...init, headers });
}

export interface Launched {
  sessionId: string;
  token: string;
  expiresAt: string;
}

export async function launch(body: Record<string, unknown> = {}): Promise<Launched> {
  const res = await api('/launches', {
    method: 'POST',
    body: JSON.stringify({ user: 'alice', target: 'db-01.prod', ...body }),
  });
  if (res.status !== 201) throw new Error(`launch failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export function fixturePieces(): Array<FixturePiece & { bytes: Uint8Array }> {
  return inject('webm').pieces.map((p) => ({ ...p, bytes: Uint8Array.from(atob(p.base64), (c) => c.charCodeAt(0)) }));
}

export function putPiece(
  s: Pick<Launched, 'sessionId' | 'token'>,
  seq: number,
  bytes: Uint8Array,
  meta: { keyframe?: boolean; startMs?: number; endMs?: number } = {},
  extraHeaders: Record<string, string> = {},
): Promise<Response> {
  return request(`/ingest/v1/sessions/${s.sessionId}/pieces/${seq}`, {
    method: 'PUT',
    body: bytes,
    headers: {
      authorization: `Bearer ${s.token}`,
      'content-type': 'video/webm',
      'content-length': String(bytes.byteLength),
      'x-witness-keyframe': meta.keyframe ? '1' : '0',
      'x-witness-start-ms': String(meta.startMs ?? 0),
      'x-witness-end-ms': String(meta.endMs ?? 0),
      ...extraHeaders,
    },
  });
}

/** Puts fixture piece `seq` with its real metadata. */
export function putFixture(s: Pick<Launched, 'sessionId' | 'token'>, seq: number): Promise<Response> {
  const piece = fixturePieces()[seq];
  if (!piece) throw new Error(`no fixture piece ${seq}`);
  return putPiece(s, seq, piece.bytes, piece);
}

/** A WebSocket with a queue of what it received. */
export interface TestSocket {
  ws: WebSocket;
  next(timeoutMs?: number): Promise<string | ArrayBuffer>;
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  closed: Promise<{ code: number; reason: string }>;
}

/** `auth` is a bearer token, or the headers that authenticate (a console user's cookie). */
export async function openSocket(path: string, auth: string | Record<string, string>): Promise<TestSocket> {
  const credentials = typeof auth === 'string' ? { authorization: `Bearer ${auth}` } : auth;
  const res = await request(path, { headers: { upgrade: 'websocket', ...credentials } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no WebSocket: ${res.status} ${await res.text()}`);
  ws.accept();
  // Binary frames arrive as Blobs by default, as in browsers; read them as bytes like the console does.
  (ws as WebSocket & { binaryType: string }).binaryType = 'arraybuffer';
  const queue: Array<string | ArrayBuffer> = [];
  const waiters: Array<(m: string | ArrayBuffer) => void> = [];
  ws.addEventListener('message', (event) => {
    const data = event.data as string | ArrayBuffer;
    const waiter = waiters.shift();
    if (waiter) waiter(data);
    else queue.push(data);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })),
  );
  const next = (timeoutMs = 5000) =>
    new Promise<string | ArrayBuffer>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error('timed out waiting for a WebSocket message')), timeoutMs);
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  return {
    ws,
    next,
    nextJson: async <T>(timeoutMs?: number) => {
      const m = await next(timeoutMs);
      if (typeof m !== 'string') throw new Error('expected a text frame');
      return JSON.parse(m) as T;
    },
    closed,
  };
}

export function hello(reportsActivity = false): string {
  return JSON.stringify({
    type: 'hello',
    protocol: 1,
    launcher: { name: 'test', version: '0', platform: 'workerd' },
    reportsActivity,
  });
}

/** Connects a launcher's control socket and completes the hello/welcome exchange. */
export async function connectLauncher(s: Launched): Promise<TestSocket & { welcome: Record<string, unknown> }> {
  const socket = await openSocket(`/ingest/v1/sessions/${s.sessionId}/control`, s.token);
  socket.ws.send(hello());
  const welcome = await socket.nextJson();
  if (welcome.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`);
  return { ...socket, welcome };
}

export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? `no error code (status ${res.status})`;
}

/** Keys of every object R2 holds for piece `seq` of a session, whichever upload attempt wrote it. */
export async function pieceObjects(sessionId: string, seq: number): Promise<string[]> {
  const listed = await env.RECORDINGS.list({ prefix: `${piecesPrefix(sessionId)}${String(seq).padStart(10, '0')}` });
  return listed.objects.map((o) => o.key);
}

/** The R2 key of stored piece `seq` as the session's index names it, or null when it is not stored. */
export async function storedPieceKey(
  sessionId: string,
  seq: number,
  format: RecordingFormat = 'webm',
): Promise<string | null> {
  const stored = await env.SESSIONS.getByName(sessionId).pieceObject(seq);
  return stored && pieceKey(sessionId, seq, format, stored.attempt);
}

/** The bytes of stored piece `seq`, read where its index says, or null. */
export async function storedPieceBytes(
  sessionId: string,
  seq: number,
  format: RecordingFormat = 'webm',
): Promise<Uint8Array | null> {
  const key = await storedPieceKey(sessionId, seq, format);
  const object = key && (await env.RECORDINGS.get(key));
  return object ? new Uint8Array(await object.arrayBuffer()) : null;
}

/** Moves the session's `sealAt` into the past and wakes the object as its alarm would. */
export async function sealNow(id: string): Promise<void> {
  const stub = env.SESSIONS.getByName(id);
  await runInDurableObject(stub, (_i, state) => {
    const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'session'`).one();
    const record = JSON.parse(row.value) as { sealAt: number | null };
    if (record.sealAt !== null) record.sealAt = Date.now() - 1;
    state.storage.sql.exec(`UPDATE state SET value = ? WHERE key = 'session'`, JSON.stringify(record));
  });
  await evictDurableObject(stub);
  await runDurableObjectAlarm(stub);
}

/** A session recorded from the fixture pieces, ended by its launcher and sealed: its recording is ready. */
export async function recordedSession(body: Record<string, unknown> = {}): Promise<string> {
  const s = await launch(body);
  const launcher = await connectLauncher(s);
  const pieces = fixturePieces();
  for (let seq = 0; seq < pieces.length; seq++) {
    const res = await putFixture(s, seq);
    if (res.status !== 201) throw new Error(`piece ${seq}: ${res.status} ${await res.text()}`);
  }
  launcher.ws.send(JSON.stringify({ type: 'end', lastSeq: pieces.length - 1 }));
  const ended = await launcher.nextJson();
  if (ended.type !== 'ended') throw new Error(`expected ended, got ${JSON.stringify(ended)}`);
  await sealNow(s.sessionId);
  const view = (await (await api(`/sessions/${s.sessionId}`)).json()) as { recording: { status: string } };
  if (view.recording.status !== 'ready') throw new Error(`recording ${view.recording.status}, not ready`);
  return s.sessionId;
}
