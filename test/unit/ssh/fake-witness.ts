/**
 * A stand-in for the Witness server as the SSH proxy sees it: launches, one control socket per session, cast
 * piece PUTs checked line by line (protocol/asciicast.ts) and activity batches, with failure switches.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ActivityAck, ActivityBatch, ActivityEvent } from '../../../protocol/activity.ts';
import { checkCastEvents, checkCastHeader } from '../../../protocol/asciicast.ts';
import { LauncherMessage, type ServerControlMessage } from '../../../protocol/control.ts';
import { IngestHeader, PIECE_CONTENT_TYPE, PieceHeaders } from '../../../protocol/ingest.ts';
import { DEFAULT_POLICY, type EndReason, type Policy } from '../../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING, HEARTBEAT_PONG, PROTOCOL_VERSION } from '../../../protocol/version.ts';

export interface FakeSession {
  id: string;
  user: string;
  target: string;
  protocol: 'ssh' | 'desktop';
  tokens: Set<string>;
  pieces: Map<number, { bytes: Buffer; startMs: number; endMs: number }>;
  batches: Map<number, { body: string; events: ActivityEvent[]; ack: ActivityAck }>;
  received: LauncherMessage[];
  control: WebSocket | null;
  controlConnections: number;
  ended: EndReason | null;
  /** Status codes of every PUT, in order. */
  puts: { seq: number; status: number }[];
}

export interface FakeWitnessOptions {
  apiKey?: string;
  policy?: Partial<Policy>;
  /** Answer PUTs with 503 while this returns true. */
  unavailable?: (seq: number) => boolean;
  /** Refuse launches. */
  refuseLaunch?: boolean;
  /** Store pieces without parsing them (benchmarks: the edge's CPU is not what they measure). */
  trustPieces?: boolean;
}

export class FakeWitness {
  readonly options: FakeWitnessOptions;
  readonly sessions = new Map<string, FakeSession>();
  url = '';
  readonly #server: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true });

  constructor(options: FakeWitnessOptions = {}) {
    this.options = options;
    this.#server = http.createServer((req, res) => void this.#http(req, res));
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A launch made elsewhere (a vault): its id and token. */
  createSession(user: string, target: string, protocol: FakeSession['protocol'] = 'ssh'): FakeSession {
    const session: FakeSession = {
      id: randomUUID(),
      user,
      target,
      protocol,
      tokens: new Set([`tok-${randomUUID()}`]),
      pieces: new Map(),
      batches: new Map(),
      received: [],
      control: null,
      controlConnections: 0,
      ended: null,
      puts: [],
    };
    this.sessions.set(session.id, session);
    return session;
  }

  token(session: FakeSession): string {
    return [...session.tokens][0] as string;
  }

  /** The only session (tests with one connection). */
  soleSession(): FakeSession {
    const [session, ...rest] = [...this.sessions.values()];
    if (!session || rest.length > 0) throw new Error(`expected one session, found ${this.sessions.size}`);
    return session;
  }

  /** Pieces 0, 1, 2, … concatenated: the .cast the server seals. */
  cast(session: FakeSession): string {
    const seqs = [...session.pieces.keys()].sort((a, b) => a - b);
    seqs.forEach((seq, index) => {
      if (seq !== index) throw new Error(`piece ${index} is missing (have ${seqs.join(',')})`);
    });
    return Buffer.concat(seqs.map((seq) => (session.pieces.get(seq) as { bytes: Buffer }).bytes)).toString('utf8');
  }

  events(session: FakeSession): ActivityEvent[] {
    return [...session.batches.entries()].sort(([a], [b]) => a - b).flatMap(([, batch]) => batch.events);
  }

  send(session: FakeSession, message: ServerControlMessage): void {
    session.control?.send(JSON.stringify(message));
  }

  /** Ends the session from the server side (an alarm, an admin's terminate). */
  end(session: FakeSession, reason: EndReason): void {
    session.ended = reason;
    this.send(session, { type: 'ended', reason });
    session.control?.close(CloseCode.sessionEnded, reason);
  }

  /** Kills the session's control socket without a close frame (a dropped network). */
  dropControl(session: FakeSession): void {
    session.control?.terminate();
  }

  #bearer(req: http.IncomingMessage): string {
    return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  }

  async #http(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const error = (status: number, code: string, message = code) => reply(status, { error: { code, message } });

    if (req.method === 'POST' && url.pathname === '/api/v1/launches') {
      if (this.#bearer(req) !== (this.options.apiKey ?? 'key-1')) return error(401, 'unauthorized', 'bad API key');
      if (this.options.refuseLaunch) return error(403, 'forbidden', 'launches are switched off');
      const launch = JSON.parse(body.toString('utf8')) as { user: string; target: string; protocol: 'ssh' };
      const session = this.createSession(launch.user, launch.target, launch.protocol);
      return reply(201, {
        sessionId: session.id,
        token: this.token(session),
        expiresAt: new Date(Date.now() + 900_000).toISOString(),
        format: 'asciicast',
      });
    }
    const match = /^\/ingest\/v1\/sessions\/([^/]+)\/(pieces|events)\/(\d+)$/.exec(url.pathname);
    const session = match ? this.sessions.get(match[1] as string) : undefined;
    if (!match || !session) return error(404, 'not_found');
    if (!session.tokens.has(this.#bearer(req))) return error(401, 'invalid_token');
    const number = Number(match[3]);
    if (match[2] === 'events') return this.#batch(session, number, body, reply, error);

    const put = (status: number) => session.puts.push({ seq: number, status });
    if (this.options.unavailable?.(number)) {
      put(503);
      return error(503, 'unavailable', 'try again');
    }
    if (req.headers['content-type'] !== PIECE_CONTENT_TYPE.asciicast) {
      put(415);
      return error(415, 'unsupported_media_type');
    }
    const headers = PieceHeaders.safeParse(req.headers);
    const text = this.options.trustPieces ? '' : body.toString('utf8');
    // As the server checks: no keystroke input when the policy has keystroke recording off.
    const input = this.options.policy?.keystrokesEnabled ?? DEFAULT_POLICY.keystrokesEnabled;
    const check = this.options.trustPieces
      ? null
      : number === 0
        ? checkCastHeader(text)
        : checkCastEvents(text, { input });
    const problem =
      typeof check === 'string'
        ? check
        : !headers.success
          ? headers.error.message
          : check !== null &&
              (headers.data[IngestHeader.startMs] !== check.startMs ||
                headers.data[IngestHeader.endMs] !== check.endMs ||
                !headers.data[IngestHeader.keyframe])
            ? `headers ${JSON.stringify(headers.data)} do not match the piece ${JSON.stringify(check)}`
            : null;
    if (problem) {
      put(422);
      return error(422, 'not_asciicast', problem);
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    const existing = session.pieces.get(number);
    if (existing && !existing.bytes.equals(body)) {
      put(409);
      return error(409, 'seq_conflict');
    }
    if (!existing && headers.success) {
      session.pieces.set(number, {
        bytes: body,
        startMs: headers.data[IngestHeader.startMs],
        endMs: headers.data[IngestHeader.endMs],
      });
    }
    put(existing ? 200 : 201);
    reply(existing ? 200 : 201, { seq: number, size: body.length, sha256, duplicate: Boolean(existing) });
  }

  #batch(
    session: FakeSession,
    batch: number,
    body: Buffer,
    reply: (status: number, json: unknown) => void,
    error: (status: number, code: string, message?: string) => void,
  ): void {
    const text = body.toString('utf8');
    const existing = session.batches.get(batch);
    if (existing) {
      if (existing.body !== text) error(409, 'batch_conflict');
      else reply(200, { ...existing.ack, duplicate: true });
      return;
    }
    const parsed = ActivityBatch.safeParse(JSON.parse(text));
    if (!parsed.success) {
      error(400, 'invalid_batch', parsed.error.message);
      return;
    }
    const events: ActivityEvent[] = [];
    const rejected: ActivityAck['rejected'] = [];
    parsed.data.events.forEach((raw, index) => {
      const event = ActivityEvent.safeParse(raw);
      if (event.success) events.push(event.data);
      else rejected.push({ index, reason: event.error.message });
    });
    const ack: ActivityAck = { batch, stored: events.length, rejected, duplicate: false };
    session.batches.set(batch, { body: text, events, ack });
    reply(201, ack);
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const match = /^\/ingest\/v1\/sessions\/([^/]+)\/control$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const session = match ? this.sessions.get(match[1] as string) : undefined;
    if (!session?.tokens.has(this.#bearer(req))) {
      const body = JSON.stringify({ error: { code: 'invalid_token', message: 'bad ingest token' } });
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#control(session, ws));
  }

  #control(session: FakeSession, ws: WebSocket): void {
    session.controlConnections++;
    session.control?.close(CloseCode.replaced, 'replaced');
    session.control = ws;
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === HEARTBEAT_PING) return ws.send(HEARTBEAT_PONG);
      const parsed = LauncherMessage.safeParse(JSON.parse(text));
      if (!parsed.success) return ws.close(CloseCode.protocolError, 'invalid message');
      const message = parsed.data;
      session.received.push(message);
      if (message.type === 'hello') {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            sessionId: session.id,
            status: session.ended ? 'ended' : 'active',
            policy: { ...DEFAULT_POLICY, ...this.options.policy },
            storedSeqs: [...session.pieces.keys()].sort((a, b) => a - b),
            session: { user: session.user, target: session.target, protocol: session.protocol, format: 'asciicast' },
          } satisfies ServerControlMessage),
        );
      } else if (message.type === 'renew') {
        const token = `tok-${randomUUID()}`;
        session.tokens.add(token);
        ws.send(JSON.stringify({ type: 'token', token, expiresAt: new Date(Date.now() + 900_000).toISOString() }));
      } else if (message.type === 'end') {
        session.ended ??= 'ended_by_user';
        ws.send(JSON.stringify({ type: 'ended', reason: session.ended }));
        ws.close(CloseCode.sessionEnded, 'session ended');
      }
    });
    ws.on('close', () => {
      if (session.control === ws) session.control = null;
    });
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
