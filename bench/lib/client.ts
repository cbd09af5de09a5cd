/**
 * The load generator's side of the wire: launch a session, hold its control socket, upload pieces on a
 * one-a-second schedule (at most two in flight, as a launcher does), and watch live. Times are
 * `performance.now()`, one clock for every party since all run in this process.
 */
import http from 'node:http';
import WebSocket from 'ws';
import { LaunchReply, type PieceAck } from '../../protocol/ingest.ts';
import { HEARTBEAT_PING, PROTOCOL_VERSION } from '../../protocol/version.ts';
import { decodeMediaFrame, type MediaFrameHeader } from '../../protocol/viewer.ts';
import { type BenchMedia, pieceFor } from './media.ts';
import type { RunningServer } from './servers.ts';
import { sleep, sleepUntil } from './stats.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

export interface BenchSession {
  sessionId: string;
  token: string;
  control: WebSocket;
}

/** POST /api/v1/launches, then the control socket's hello → welcome. */
export async function launchSession(server: RunningServer, name: string): Promise<BenchSession> {
  const res = await fetch(`${server.baseUrl}/api/v1/launches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'bench', target: name }),
  });
  if (res.status !== 201) throw new Error(`launch refused: ${res.status} ${await res.text()}`);
  const { sessionId, token } = LaunchReply.parse(await res.json());
  const control = new WebSocket(`${wsUrl(server)}/ingest/v1/sessions/${sessionId}/control`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.once('unexpected-response', (_req, r) => refused('control socket', r, reject));
    control.once('open', () =>
      control.send(
        JSON.stringify({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          launcher: { name: 'bench', version: '0', platform: 'linux' },
          reportsActivity: true,
        }),
      ),
    );
    control.on('message', (data) => {
      const text = String(data);
      if (text.startsWith('{') && (JSON.parse(text) as { type: string }).type === 'welcome') resolve();
    });
  });
  const heartbeat = setInterval(() => control.send(HEARTBEAT_PING), 15_000);
  control.once('close', () => clearInterval(heartbeat));
  return { sessionId, token, control };
}

/** Rejects with the status and body of a refused WebSocket upgrade. */
function refused(what: string, res: http.IncomingMessage, reject: (error: Error) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => (body += d));
  res.on('end', () => reject(new Error(`${what} refused: ${res.statusCode} ${body.slice(0, 300)}`)));
}

function wsUrl(server: RunningServer): string {
  return server.baseUrl.replace(/^http/, 'ws');
}

export interface PutResult {
  status: number;
  body: string;
}

/** One PUT; resolves when the whole reply has been read (for a 201, the moment the piece is "accepted"). */
export function putPiece(
  server: RunningServer,
  session: BenchSession,
  seq: number,
  bytes: Uint8Array,
  headers: Record<string, string>,
): Promise<PutResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.baseUrl}/ingest/v1/sessions/${session.sessionId}/pieces/${seq}`,
      {
        method: 'PUT',
        agent,
        headers: {
          authorization: `Bearer ${session.token}`,
          'content-type': 'video/webm',
          'content-length': String(bytes.byteLength),
          ...headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

export interface UploadRecord {
  seq: number;
  bytes: number;
  /** When the schedule wanted the piece sent. */
  slotAt: number;
  /** When its (last) PUT started. */
  sentAt: number;
  /** When the 201/200 reply was read; null if it never was. */
  ackAt: number | null;
  attempts: number;
  /** Failed attempts: non-2xx replies and connection errors, as `status code` or the error message. */
  errors: string[];
}

export interface UploadPlan {
  server: RunningServer;
  session: BenchSession;
  media: BenchMedia;
  /** performance.now() of piece 0's slot; piece n is due `n` seconds later. */
  startAt: number;
  pieces: number;
  onAck?: (record: UploadRecord) => void;
}

const MAX_IN_FLIGHT = 2;
const MAX_ATTEMPTS = 4;

/** Uploads pieces 0..pieces-1 one a second, like a launcher; retries failures a few times. */
export async function uploadOnSchedule(plan: UploadPlan): Promise<UploadRecord[]> {
  const records: UploadRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  for (let seq = 0; seq < plan.pieces; seq++) {
    const slotAt = plan.startAt + seq * 1000;
    await sleepUntil(slotAt);
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const piece = pieceFor(plan.media, seq);
    const record: UploadRecord = {
      seq,
      bytes: piece.bytes.byteLength,
      slotAt,
      sentAt: 0,
      ackAt: null,
      attempts: 0,
      errors: [],
    };
    records.push(record);
    const upload = (async () => {
      while (record.attempts < MAX_ATTEMPTS && record.ackAt === null) {
        if (record.attempts > 0) await sleep(250 * record.attempts);
        record.attempts++;
        record.sentAt = performance.now();
        try {
          const reply = await putPiece(plan.server, plan.session, seq, piece.bytes, piece.headers);
          if (reply.status === 201 || reply.status === 200) {
            record.ackAt = performance.now();
            const ack = JSON.parse(reply.body) as PieceAck;
            if (ack.seq !== seq) record.errors.push(`ack for seq ${ack.seq}`);
            plan.onAck?.(record);
          } else {
            record.errors.push(`${reply.status} ${reply.body.slice(0, 200)}`);
          }
        } catch (error) {
          record.errors.push((error as Error).message);
        }
      }
    })();
    inFlight.add(upload);
    void upload.finally(() => inFlight.delete(upload));
  }
  await Promise.all(inFlight);
  return records;
}

export interface LiveViewer {
  socket: WebSocket;
  /** seq → performance.now() when its media frame arrived. */
  received: Map<number, number>;
  /** Frames for a seq already received. */
  duplicates: number;
  gaps: number;
}

/** Opens a live viewer and resolves once its `hello` arrived. */
export async function watchLive(
  server: RunningServer,
  sessionId: string,
  onFrame?: (header: MediaFrameHeader, at: number) => void,
): Promise<LiveViewer> {
  const socket = new WebSocket(`${wsUrl(server)}/api/v1/sessions/${sessionId}/live`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  const viewer: LiveViewer = { socket, received: new Map(), duplicates: 0, gaps: 0 };
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, r) => refused('live socket', r, reject));
    socket.on('message', (data, isBinary) => {
      const at = performance.now();
      if (!isBinary) {
        const message = JSON.parse(String(data)) as { type: string };
        if (message.type === 'hello') resolve();
        if (message.type === 'gap') viewer.gaps++;
        return;
      }
      const { header } = decodeMediaFrame(new Uint8Array(data as Buffer));
      if (viewer.received.has(header.seq)) viewer.duplicates++;
      else viewer.received.set(header.seq, at);
      onFrame?.(header, at);
    });
  });
  return viewer;
}

export interface SessionRecording {
  pieces: number;
  missingPieces: unknown[];
}

/** GET /api/v1/sessions/{id}: what the server says it stored. */
export async function storedRecording(server: RunningServer, sessionId: string): Promise<SessionRecording> {
  const res = await fetch(`${server.baseUrl}/api/v1/sessions/${sessionId}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  if (!res.ok) throw new Error(`GET session ${sessionId}: ${res.status}`);
  return ((await res.json()) as { recording: SessionRecording }).recording;
}

export function closeAll(sockets: WebSocket[]): void {
  for (const socket of sockets) socket.terminate();
}
