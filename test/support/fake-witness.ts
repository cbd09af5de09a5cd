/**
 * A stand-in for the Witness server as its agents see it (docs/ingest-protocol.md): launches, one control
 * socket per session, piece PUTs checked as the server checks them (WebM starts for the launcher, asciicast
 * lines for the SSH proxy) and activity batches, with switches to inject the failures an agent must survive.
 * The launcher's and the SSH proxy's tests share it; bench/ssh-proxy.ts uses it too.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ActivityAck, ActivityBatch, ActivityEvent } from '../../protocol/activity.ts';
import { checkCastEvents, checkCastHeader } from '../../protocol/asciicast.ts';
import { LauncherMessage, type ServerControlMessage } from '../../protocol/control.ts';
import { IngestHeader, PIECE_CONTENT_TYPE, PieceHeaders } from '../../protocol/ingest.ts';
import {
  DEFAULT_POLICY,
  defaultFormat,
  type EndReason,
  type Policy,
  type Protocol,
  type RecordingFormat,
} from '../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING, HEARTBEAT_PONG, PROTOCOL_VERSION } from '../../protocol/version.ts';
import { checkPieceStart } from '../../protocol/webm.ts';

export interface FakeWitnessOptions {
  apiKey?: string;
  /** Overrides of the default policy in every welcome (recording or keystrokes off, say). */
  policy?: Partial<Policy>;
  /** Lifetime of issued tokens (15 minutes, as the server's default). */
  tokenLifetimeMs?: number;
  /** Refuse launches with this status and error. */
  refuseLaunch?: { status: number; code: string; message: string };
  /** Answer every PUT of the seqs this picks with 503. */
  unavailable?: (seq: number) => boolean;
  /** Answer the first PUT of each of these seqs with 503. */
  failFirstPutOf?: number[];
  /** Answer the first PUT of this seq with 401 token_expired (and forget the token). */
  expireTokenAtSeq?: number;
  /** Answer the first POST of each of these activity batches with 503. */
  failFirstBatchPostOf?: number[];
  /** Answer the first POST of this batch with 401 token_expired (and forget the token). */
  expireTokenAtBatch?: number;
  /** Refuse single events (listed in the ack's `rejected`): return a reason to refuse. */
  rejectEvent?: (event: ActivityEvent) => string | null;
  /** Kill the control socket without a close frame once this seq is stored (a dropped network). */
  dropControlAfterSeq?: number;
  /** Never answer heartbeats (a half-dead connection). */
  ignorePings?: boolean;
  /** Send `terminate` once this seq is stored. */
  terminateAfterSeq?: number;
  /** Send a `message` once this seq is stored. */
  messageAfterSeq?: number;
  /** Store pieces without parsing them (benchmarks: the edge's CPU is not what they measure). */
  trustPieces?: boolean;
  /** What `GET /api/v1/agent/policy` says (witness-agent's tests): its host, and whether it is recorded. */
  agentPolicy?: { host: string; record: boolean };
}

export interface StoredPiece {
  bytes: Buffer;
  keyframe: boolean;
  startMs: number;
  endMs: number;
  /** When the PUT arrived (epoch ms). */
  receivedAt: number;
}

export interface StoredBatch {
  body: string;
  /** The events the server kept. */
  events: ActivityEvent[];
  ack: ActivityAck;
}

export interface FakeSession {
  id: string;
  user: string;
  target: string;
  protocol: Protocol;
  format: RecordingFormat;
  /** Tokens the server accepts for this session now. */
  tokens: Set<string>;
  pieces: Map<number, StoredPiece>;
  /** Every piece PUT with its status and token, in arrival order. */
  puts: { seq: number; status: number; token: string }[];
  batches: Map<number, StoredBatch>;
  /** Every activity batch POST with its status and token, in arrival order. */
  batchPosts: { batch: number; status: number; token: string }[];
  /** Every valid message on any control connection, with the connection's number (from 1). */
  received: { connection: number; message: LauncherMessage }[];
  /** Frames that broke the protocol (not JSON, unknown, or anything before hello). */
  invalidFrames: string[];
  control: WebSocket | null;
  controlConnections: number;
  pings: number;
  ended: EndReason | null;
  /** The once-only failures already injected. */
  injected: Set<string>;
}

export class FakeWitness {
  readonly options: FakeWitnessOptions;
  readonly sessions = new Map<string, FakeSession>();
  /** Control socket upgrades refused (unknown session or bad token). */
  refusedUpgrades = 0;
  url = '';
  readonly #server: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true });

  constructor(options: FakeWitnessOptions = {}) {
    this.options = options;
    this.#server = http.createServer((req, res) => void this.#http(req, res));
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** Listens on `port` (a free one by default; a given one brings a stopped server back at its address). */
  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A launch made elsewhere (a vault, an admin): the agent is handed its id and `token(session)`. */
  createSession(
    user: string,
    target: string,
    protocol: Protocol = 'ssh',
    format: RecordingFormat = defaultFormat(protocol),
  ): FakeSession {
    const session: FakeSession = {
      id: randomUUID(),
      user,
      target,
      protocol,
      format,
      tokens: new Set(),
      pieces: new Map(),
      puts: [],
      batches: new Map(),
      batchPosts: [],
      received: [],
      invalidFrames: [],
      control: null,
      controlConnections: 0,
      pings: 0,
      ended: null,
      injected: new Set(),
    };
    this.issueToken(session);
    this.sessions.set(session.id, session);
    return session;
  }

  /** A new token the server accepts for the session, with its expiry. */
  issueToken(session: FakeSession): { token: string; expiresAt: string } {
    const token = `tok-${randomUUID()}`;
    session.tokens.add(token);
    return { token, expiresAt: this.#expiry() };
  }

  /** When a token issued now expires. */
  #expiry(): string {
    return new Date(Date.now() + (this.options.tokenLifetimeMs ?? 900_000)).toISOString();
  }

  /** The session's first token still accepted. */
  token(session: FakeSession): string {
    const [token] = session.tokens;
    if (!token) throw new Error(`session ${session.id} has no valid token`);
    return token;
  }

  /** The only session (tests with one connection). */
  soleSession(): FakeSession {
    const [session, ...rest] = [...this.sessions.values()];
    if (!session || rest.length > 0) throw new Error(`expected one session, found ${this.sessions.size}`);
    return session;
  }

  /** The newest session, if any. */
  latestSession(): FakeSession | undefined {
    return [...this.sessions.values()].at(-1);
  }

  /** Control messages of one type, in arrival order. */
  messages<T extends LauncherMessage['type']>(session: FakeSession, type: T): Extract<LauncherMessage, { type: T }>[] {
    return session.received.filter((r) => r.message.type === type).map((r) => r.message) as Extract<
      LauncherMessage,
      { type: T }
    >[];
  }

  /** Whether the agent said `end` and the server stored every piece up to the last one it declared. */
  finished(session: FakeSession): boolean {
    const [end] = this.messages(session, 'end');
    if (!end) return false;
    const last = end.lastSeq ?? -1;
    return Array.from({ length: last + 1 }, (_, seq) => seq).every((seq) => session.pieces.has(seq));
  }

  /** Every stored activity event, in batch order. */
  events(session: FakeSession): ActivityEvent[] {
    return [...session.batches.entries()].sort(([a], [b]) => a - b).flatMap(([, batch]) => batch.events);
  }

  /** Pieces 0, 1, 2, … concatenated, checked to have no gap: what the server seals. */
  recording(session: FakeSession): Buffer {
    const seqs = [...session.pieces.keys()].sort((a, b) => a - b);
    seqs.forEach((seq, index) => {
      if (seq !== index) throw new Error(`piece ${index} is missing (have ${seqs.join(',')})`);
    });
    return Buffer.concat(seqs.map((seq) => (session.pieces.get(seq) as StoredPiece).bytes));
  }

  /** The sealed `.cast` of an SSH session. */
  cast(session: FakeSession): string {
    return this.recording(session).toString('utf8');
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

  /** True the first time `key` is asked for in this session: a once-only failure fires. */
  #once(session: FakeSession, key: string): boolean {
    if (session.injected.has(key)) return false;
    session.injected.add(key);
    return true;
  }

  async #http(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const error = (status: number, code: string, message = code) => reply(status, { error: { code, message } });

    if (req.method === 'GET' && url.pathname === '/api/v1/agent/policy') {
      if (this.#bearer(req) !== (this.options.apiKey ?? 'key-1')) return error(401, 'unauthorized', 'bad API key');
      const { host, record } = this.options.agentPolicy ?? { host: 'test-host', record: true };
      return reply(200, { host, record, rule: null, policy: { ...DEFAULT_POLICY, ...this.options.policy } });
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/launches') {
      if (this.#bearer(req) !== (this.options.apiKey ?? 'key-1')) return error(401, 'unauthorized', 'bad API key');
      if (this.options.refuseLaunch) {
        const { status, code, message } = this.options.refuseLaunch;
        return error(status, code, message);
      }
      const launch = JSON.parse(body.toString('utf8')) as {
        user?: string;
        target?: string;
        protocol?: Protocol;
        format?: RecordingFormat;
      };
      if (!launch.user || !launch.target) return error(400, 'invalid_request', 'user and target are required');
      const protocol = launch.protocol ?? 'desktop';
      const session = this.createSession(launch.user, launch.target, protocol, launch.format);
      const token = this.token(session);
      return reply(201, { sessionId: session.id, token, expiresAt: this.#expiry(), format: session.format });
    }

    const match = /^\/ingest\/v1\/sessions\/([^/]+)\/(pieces|events)\/(\d+)$/.exec(url.pathname);
    const session = match ? this.sessions.get(match[1] as string) : undefined;
    const number = Number(match?.[3]);
    if (match?.[2] === 'events' && req.method === 'POST' && session) {
      return this.#batch(session, number, req, body, reply, error);
    }
    if (match?.[2] !== 'pieces' || req.method !== 'PUT' || !session) return error(404, 'not_found');
    this.#piece(session, number, req, body, reply, error);
  }

  /** PUT /ingest/v1/sessions/{id}/pieces/{seq}: checked as the server checks the session's format. */
  #piece(
    session: FakeSession,
    seq: number,
    req: http.IncomingMessage,
    body: Buffer,
    reply: (status: number, json: unknown) => void,
    error: (status: number, code: string, message?: string) => void,
  ) {
    const token = this.#bearer(req);
    const answer = (status: number) => session.puts.push({ seq, status, token });
    if (!session.tokens.has(token)) {
      answer(401);
      return error(401, 'invalid_token');
    }
    if (seq === this.options.expireTokenAtSeq && this.#once(session, 'expire-put')) {
      session.tokens.delete(token);
      answer(401);
      return error(401, 'token_expired', 'the ingest token has expired');
    }
    if (
      this.options.unavailable?.(seq) ||
      (this.options.failFirstPutOf?.includes(seq) && this.#once(session, `fail-put-${seq}`))
    ) {
      answer(503);
      return error(503, 'unavailable', 'try again');
    }
    if (req.headers['content-type'] !== PIECE_CONTENT_TYPE[session.format]) {
      answer(415);
      return error(415, 'unsupported_media_type', `pieces of this session are ${PIECE_CONTENT_TYPE[session.format]}`);
    }
    if (Number(req.headers['content-length']) !== body.length) {
      answer(400);
      return error(400, 'bad_request', 'content-length does not match the body');
    }
    const headers = PieceHeaders.safeParse(req.headers);
    if (!headers.success) {
      answer(422);
      return error(422, 'invalid_piece', headers.error.message);
    }
    const problem = this.options.trustPieces ? null : this.#pieceProblem(session, seq, body, headers.data);
    if (problem) {
      answer(422);
      return error(422, 'invalid_piece', problem);
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    const existing = session.pieces.get(seq);
    if (existing) {
      if (!existing.bytes.equals(body)) {
        answer(409);
        return error(409, 'seq_conflict', 'a different piece is stored');
      }
      answer(200);
      return reply(200, { seq, size: body.length, sha256, duplicate: true });
    }
    session.pieces.set(seq, {
      bytes: body,
      keyframe: headers.data[IngestHeader.keyframe],
      startMs: headers.data[IngestHeader.startMs],
      endMs: headers.data[IngestHeader.endMs],
      receivedAt: Date.now(),
    });
    answer(201);
    reply(201, { seq, size: body.length, sha256, duplicate: false });
    this.#afterStored(session, seq);
  }

  /** What the server would refuse in a piece's content, or null. */
  #pieceProblem(
    session: FakeSession,
    seq: number,
    body: Buffer,
    headers: ReturnType<typeof PieceHeaders.parse>,
  ): string | null {
    if (session.format === 'webm') return checkPieceStart(seq, body.subarray(0, 64));
    const text = body.toString('utf8');
    // As the server checks: no keystroke input when the policy has keystroke recording off.
    const input = this.options.policy?.keystrokesEnabled ?? DEFAULT_POLICY.keystrokesEnabled;
    const check = seq === 0 ? checkCastHeader(text) : checkCastEvents(text, { input });
    if (typeof check === 'string') return check;
    if (
      check !== null &&
      (headers[IngestHeader.startMs] !== check.startMs ||
        headers[IngestHeader.endMs] !== check.endMs ||
        !headers[IngestHeader.keyframe])
    ) {
      return `headers ${JSON.stringify(headers)} do not match the piece ${JSON.stringify(check)}`;
    }
    return null;
  }

  /** The failures and commands timed by the recording's progress. */
  #afterStored(session: FakeSession, seq: number): void {
    if (seq === this.options.terminateAfterSeq && this.#once(session, 'terminate')) {
      this.send(session, {
        type: 'terminate',
        id: 'cmd-terminate',
        message: 'Policy violation: session closed by security',
      });
    }
    if (seq === this.options.messageAfterSeq && this.#once(session, 'message')) {
      this.send(session, { type: 'message', id: 'cmd-message', text: 'Please save your work' });
    }
    if (seq === this.options.dropControlAfterSeq && this.#once(session, 'drop')) this.dropControl(session);
  }

  /** POST /ingest/v1/sessions/{id}/events/{batch}: each event is checked alone; the body decides duplicates. */
  #batch(
    session: FakeSession,
    batch: number,
    req: http.IncomingMessage,
    body: Buffer,
    reply: (status: number, json: unknown) => void,
    error: (status: number, code: string, message?: string) => void,
  ) {
    const token = this.#bearer(req);
    const answer = (status: number) => session.batchPosts.push({ batch, status, token });
    if (!session.tokens.has(token)) {
      answer(401);
      return error(401, 'invalid_token');
    }
    if (batch === this.options.expireTokenAtBatch && this.#once(session, 'expire-batch')) {
      session.tokens.delete(token);
      answer(401);
      return error(401, 'token_expired', 'the ingest token has expired');
    }
    if (this.options.failFirstBatchPostOf?.includes(batch) && this.#once(session, `fail-batch-${batch}`)) {
      answer(503);
      return error(503, 'unavailable', 'try again');
    }
    if (req.headers['content-type'] !== 'application/json') {
      answer(415);
      return error(415, 'unsupported_media_type');
    }
    const text = body.toString('utf8');
    const existing = session.batches.get(batch);
    if (existing) {
      if (existing.body !== text) {
        answer(409);
        return error(409, 'batch_conflict', 'a different batch is stored under this number');
      }
      answer(200);
      return reply(200, { ...existing.ack, duplicate: true });
    }
    const parsed = ActivityBatch.safeParse(parseJson(text));
    if (!parsed.success) {
      answer(400);
      return error(400, 'invalid_batch', parsed.error.message);
    }
    const events: ActivityEvent[] = [];
    const rejected: ActivityAck['rejected'] = [];
    parsed.data.events.forEach((raw, index) => {
      const event = ActivityEvent.safeParse(raw);
      const reason = event.success ? this.options.rejectEvent?.(event.data) : event.error.message;
      if (!event.success || reason) rejected.push({ index, reason: reason ?? 'invalid' });
      else events.push(event.data);
    });
    const ack: ActivityAck = { batch, stored: events.length, rejected, duplicate: false };
    session.batches.set(batch, { body: text, events, ack });
    answer(201);
    reply(201, ack);
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const match = /^\/ingest\/v1\/sessions\/([^/]+)\/control$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const session = match ? this.sessions.get(match[1] as string) : undefined;
    if (!session?.tokens.has(this.#bearer(req))) {
      this.refusedUpgrades++;
      const body = JSON.stringify({ error: { code: 'invalid_token', message: 'bad ingest token' } });
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#control(session, ws));
  }

  #control(session: FakeSession, ws: WebSocket): void {
    const connection = ++session.controlConnections;
    // A newer connection replaces the older one, as the Durable Object does.
    session.control?.close(CloseCode.replaced, 'replaced');
    session.control = ws;
    let greeted = false;
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === HEARTBEAT_PING) {
        session.pings++;
        if (!this.options.ignorePings) ws.send(HEARTBEAT_PONG);
        return;
      }
      const parsed = LauncherMessage.safeParse(parseJson(text));
      if (!parsed.success || (!greeted && parsed.data.type !== 'hello')) {
        session.invalidFrames.push(text);
        return ws.close(CloseCode.protocolError, parsed.success ? 'hello first' : 'invalid message');
      }
      const message = parsed.data;
      session.received.push({ connection, message });
      if (message.type === 'hello') {
        greeted = true;
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            sessionId: session.id,
            status: session.ended ? 'ended' : 'active',
            policy: { ...DEFAULT_POLICY, ...this.options.policy },
            storedSeqs: [...session.pieces.keys()].sort((a, b) => a - b),
            session: { user: session.user, target: session.target, protocol: session.protocol, format: session.format },
          } satisfies ServerControlMessage),
        );
      } else if (message.type === 'renew') {
        ws.send(JSON.stringify({ type: 'token', ...this.issueToken(session) } satisfies ServerControlMessage));
      } else if (message.type === 'end') {
        session.ended ??= session.injected.has('terminate') ? 'terminated_by_admin' : 'ended_by_user';
        ws.send(JSON.stringify({ type: 'ended', reason: session.ended } satisfies ServerControlMessage));
        ws.close(CloseCode.sessionEnded, 'session ended');
      }
    });
    ws.on('close', () => {
      if (session.control === ws) session.control = null;
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
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
