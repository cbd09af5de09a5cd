/**
 * A small stand-in for the Witness ingest API (launch, control socket, piece PUTs, activity batch POSTs),
 * answering like docs/ingest-protocol.md, with switches to inject the failures the launcher must survive.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ActivityAck, ActivityBatch, ActivityEvent } from '../../protocol/activity.ts';
import { LauncherMessage, type ServerControlMessage } from '../../protocol/control.ts';
import { IngestHeader, PieceHeaders } from '../../protocol/ingest.ts';
import { DEFAULT_POLICY, type EndReason, type Protocol, type RecordingFormat } from '../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING, HEARTBEAT_PONG, PROTOCOL_VERSION } from '../../protocol/version.ts';
import { checkPieceStart } from '../../protocol/webm.ts';

export interface FakeIngestOptions {
  sessionId?: string;
  apiKey?: string;
  /** What the welcome says of the session (who, where, which format). */
  session?: { user: string; target: string; protocol: Protocol; format: RecordingFormat };
  /** Answer the first PUT of each of these seqs with 503. */
  failFirstPutOf?: number[];
  /** Answer every PUT of the seqs this picks with 503. */
  unavailable?: (seq: number) => boolean;
  /** Answer the first PUT of this seq with 401 token_expired. */
  expireTokenAtSeq?: number;
  /** Kill the first control connection this long after its welcome. */
  dropControlAfterMs?: number;
  /** Send `terminate` once this seq is stored. */
  terminateAfterSeq?: number;
  /** Send a `message` once this seq is stored. */
  messageAfterSeq?: number;
  recordingEnabled?: boolean;
  /** Never answer heartbeats (a half-dead connection). */
  ignorePings?: boolean;
  /** Lifetime of issued tokens. */
  tokenLifetimeMs?: number;
  /** Refuse launches with this status and error. */
  refuseLaunch?: { status: number; code: string; message: string };
  /** Policy overrides for the welcome (keystrokesEnabled, say). */
  policy?: Partial<typeof DEFAULT_POLICY>;
  /** Answer the first POST of each of these activity batches with 503. */
  failFirstBatchPostOf?: number[];
  /** Answer the first POST of this batch with 401 token_expired. */
  expireTokenAtBatch?: number;
  /** Refuse single events (listed in the ack's `rejected`): return a reason to refuse. */
  rejectEvent?: (event: ActivityEvent) => string | null;
}

export interface StoredBatch {
  body: string;
  /** The events the server kept. */
  events: ActivityEvent[];
  ack: ActivityAck;
}

export interface StoredPiece {
  bytes: Buffer;
  keyframe: boolean;
  startMs: number;
  endMs: number;
  /** When the PUT arrived (epoch ms). */
  receivedAt: number;
}

export interface PutRecord {
  seq: number;
  status: number;
  token: string;
}

export class FakeIngestServer {
  readonly options: FakeIngestOptions;
  readonly sessionId: string;
  readonly pieces = new Map<number, StoredPiece>();
  readonly puts: PutRecord[] = [];
  readonly batches = new Map<number, StoredBatch>();
  /** Every activity batch POST with its status, in arrival order. */
  readonly batchPosts: { batch: number; status: number; token: string }[] = [];
  /** Every valid message received on any control connection, with the connection number. */
  readonly received: { connection: number; message: LauncherMessage }[] = [];
  readonly invalidFrames: string[] = [];
  readonly issuedTokens: string[] = [];
  /** Upgrade requests refused (bad token). */
  refusedUpgrades = 0;
  pings = 0;
  connections = 0;
  url = '';
  readonly #server: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #validTokens = new Set<string>();
  readonly #failedOnce = new Set<number>();
  #expiredOnce = false;
  #batchExpiredOnce = false;
  readonly #batchFailedOnce = new Set<number>();
  #dropped = false;
  #terminated = false;
  #messaged = false;
  #current: WebSocket | null = null;

  constructor(options: FakeIngestOptions = {}) {
    this.options = options;
    this.sessionId = options.sessionId ?? 'sess-1';
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

  /** Issues a token the server accepts. */
  issueToken(): { token: string; expiresAt: string } {
    const token = `tok-${this.issuedTokens.length + 1}`;
    this.issuedTokens.push(token);
    this.#validTokens.add(token);
    return { token, expiresAt: new Date(Date.now() + (this.options.tokenLifetimeMs ?? 3_600_000)).toISOString() };
  }

  /** Messages of one type, in arrival order. */
  messages<T extends LauncherMessage['type']>(type: T): Extract<LauncherMessage, { type: T }>[] {
    return this.received.filter((r) => r.message.type === type).map((r) => r.message) as Extract<
      LauncherMessage,
      { type: T }
    >[];
  }

  /** Every stored activity event, in batch order. */
  events(): ActivityEvent[] {
    return [...this.batches.entries()].sort(([a], [b]) => a - b).flatMap(([, batch]) => batch.events);
  }

  /** Sends a control message to the current connection. */
  send(message: ServerControlMessage): void {
    this.#current?.send(JSON.stringify(message));
  }

  /** Ends the session from the server side, like an alarm would. */
  endSession(reason: EndReason): void {
    this.send({ type: 'ended', reason });
    this.#current?.close(CloseCode.sessionEnded, reason);
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
      if (this.options.refuseLaunch) {
        const { status, code, message } = this.options.refuseLaunch;
        return error(status, code, message);
      }
      const launch = JSON.parse(body.toString('utf8')) as {
        user?: string;
        target?: string;
        protocol?: string;
        format?: RecordingFormat;
      };
      if (!launch.user || !launch.target) return error(400, 'invalid_request', 'user and target are required');
      const format =
        launch.format ?? this.options.session?.format ?? (launch.protocol === 'ssh' ? 'asciicast' : 'webm');
      return reply(201, { sessionId: this.sessionId, ...this.issueToken(), format });
    }

    const events = /^\/ingest\/v1\/sessions\/([^/]+)\/events\/(\d+)$/.exec(url.pathname);
    if (req.method === 'POST' && events && events[1] === this.sessionId) {
      return this.#eventBatch(Number(events[2]), req, body, reply, error);
    }

    const match = /^\/ingest\/v1\/sessions\/([^/]+)\/pieces\/(\d+)$/.exec(url.pathname);
    if (req.method !== 'PUT' || !match || match[1] !== this.sessionId) return error(404, 'not_found');
    const seq = Number(match[2]);
    const token = this.#bearer(req);
    const record = (status: number) => this.puts.push({ seq, status, token });
    if (!this.#validTokens.has(token)) {
      record(401);
      return error(401, 'invalid_token');
    }
    if (seq === this.options.expireTokenAtSeq && !this.#expiredOnce) {
      this.#expiredOnce = true;
      this.#validTokens.delete(token);
      record(401);
      return error(401, 'token_expired', 'the ingest token has expired');
    }
    if (this.options.unavailable?.(seq)) {
      record(503);
      return error(503, 'unavailable', 'try again');
    }
    if (this.options.failFirstPutOf?.includes(seq) && !this.#failedOnce.has(seq)) {
      this.#failedOnce.add(seq);
      record(503);
      return error(503, 'unavailable', 'try again');
    }
    if (Number(req.headers['content-length']) !== body.length || req.headers['content-type'] !== 'video/webm') {
      record(400);
      return error(400, 'bad_request', 'content-length or content-type wrong');
    }
    const headers = PieceHeaders.safeParse(req.headers);
    const startProblem = checkPieceStart(seq, body.subarray(0, 64));
    if (!headers.success || startProblem) {
      record(422);
      return error(422, 'invalid_piece', startProblem ?? headers.error?.message ?? '');
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    const existing = this.pieces.get(seq);
    if (existing) {
      if (!existing.bytes.equals(body)) {
        record(409);
        return error(409, 'seq_conflict', 'a different piece is stored');
      }
      record(200);
      return reply(200, { seq, size: body.length, sha256, duplicate: true });
    }
    this.pieces.set(seq, {
      bytes: body,
      keyframe: headers.data[IngestHeader.keyframe],
      startMs: headers.data[IngestHeader.startMs],
      endMs: headers.data[IngestHeader.endMs],
      receivedAt: Date.now(),
    });
    record(201);
    reply(201, { seq, size: body.length, sha256, duplicate: false });
    if (seq === this.options.terminateAfterSeq && !this.#terminated) {
      this.#terminated = true;
      this.send({ type: 'terminate', id: 'cmd-terminate', message: 'Policy violation: session closed by security' });
    }
    if (seq === this.options.messageAfterSeq && !this.#messaged) {
      this.#messaged = true;
      this.send({ type: 'message', id: 'cmd-message', text: 'Please save your work' });
    }
  }

  /** POST /ingest/v1/sessions/{id}/events/{batch}: each event is checked alone; the body decides duplicates. */
  #eventBatch(
    batch: number,
    req: http.IncomingMessage,
    body: Buffer,
    reply: (status: number, json: unknown) => void,
    error: (status: number, code: string, message?: string) => void,
  ): void {
    const token = this.#bearer(req);
    const record = (status: number) => this.batchPosts.push({ batch, status, token });
    if (!this.#validTokens.has(token)) {
      record(401);
      error(401, 'invalid_token');
      return;
    }
    if (batch === this.options.expireTokenAtBatch && !this.#batchExpiredOnce) {
      this.#batchExpiredOnce = true;
      this.#validTokens.delete(token);
      record(401);
      error(401, 'token_expired', 'the ingest token has expired');
      return;
    }
    if (this.options.failFirstBatchPostOf?.includes(batch) && !this.#batchFailedOnce.has(batch)) {
      this.#batchFailedOnce.add(batch);
      record(503);
      error(503, 'unavailable', 'try again');
      return;
    }
    if (req.headers['content-type'] !== 'application/json') {
      record(415);
      error(415, 'unsupported_media_type');
      return;
    }
    const text = body.toString('utf8');
    const existing = this.batches.get(batch);
    if (existing) {
      if (existing.body !== text) {
        record(409);
        error(409, 'batch_conflict', 'a different batch is stored under this number');
        return;
      }
      record(200);
      reply(200, { ...existing.ack, duplicate: true });
      return;
    }
    let parsed: ReturnType<typeof ActivityBatch.safeParse>;
    try {
      parsed = ActivityBatch.safeParse(JSON.parse(text));
    } catch {
      parsed = ActivityBatch.safeParse(undefined);
    }
    if (!parsed.success) {
      record(400);
      error(400, 'invalid_batch', parsed.error.message);
      return;
    }
    const stored: ActivityEvent[] = [];
    const rejected: ActivityAck['rejected'] = [];
    parsed.data.events.forEach((raw, index) => {
      const event = ActivityEvent.safeParse(raw);
      const reason = event.success ? this.options.rejectEvent?.(event.data) : event.error.message;
      if (!event.success || reason) rejected.push({ index, reason: reason ?? 'invalid' });
      else stored.push(event.data);
    });
    const ack: ActivityAck = { batch, stored: stored.length, rejected, duplicate: false };
    this.batches.set(batch, { body: text, events: stored, ack });
    record(201);
    reply(201, ack);
  }

  #upgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const ok =
      url.pathname === `/ingest/v1/sessions/${this.sessionId}/control` && this.#validTokens.has(this.#bearer(req));
    if (!ok) {
      this.refusedUpgrades++;
      const body = JSON.stringify({ error: { code: 'invalid_token', message: 'bad ingest token' } });
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#control(ws));
  }

  #control(ws: WebSocket): void {
    const connection = ++this.connections;
    // A newer connection replaces the older one, as the Durable Object does.
    this.#current?.close(CloseCode.replaced, 'replaced');
    this.#current = ws;
    let helloSeen = false;
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === HEARTBEAT_PING) {
        this.pings++;
        if (!this.options.ignorePings) ws.send(HEARTBEAT_PONG);
        return;
      }
      let parsed: ReturnType<typeof LauncherMessage.safeParse>;
      try {
        parsed = LauncherMessage.safeParse(JSON.parse(text));
      } catch {
        parsed = LauncherMessage.safeParse(undefined);
      }
      if (!parsed.success) {
        this.invalidFrames.push(text);
        return ws.close(CloseCode.protocolError, 'invalid message');
      }
      const message = parsed.data;
      this.received.push({ connection, message });
      if (!helloSeen) {
        if (message.type !== 'hello') {
          this.invalidFrames.push(text);
          return ws.close(CloseCode.protocolError, 'hello first');
        }
        helloSeen = true;
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            sessionId: this.sessionId,
            status: 'active',
            policy: {
              ...DEFAULT_POLICY,
              ...this.options.policy,
              recordingEnabled: this.options.recordingEnabled ?? true,
            },
            storedSeqs: [...this.pieces.keys()].sort((a, b) => a - b),
            session: this.options.session ?? { user: 'alice', target: 'db-01', protocol: 'desktop', format: 'webm' },
          } satisfies ServerControlMessage),
        );
        if (this.options.dropControlAfterMs !== undefined && !this.#dropped) {
          this.#dropped = true;
          setTimeout(() => ws.terminate(), this.options.dropControlAfterMs);
        }
        return;
      }
      if (message.type === 'renew')
        ws.send(JSON.stringify({ type: 'token', ...this.issueToken() } satisfies ServerControlMessage));
      if (message.type === 'end') {
        ws.send(JSON.stringify({ type: 'ended', reason: this.#terminated ? 'terminated_by_admin' : 'ended_by_user' }));
        ws.close(CloseCode.sessionEnded, 'session ended');
      }
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
