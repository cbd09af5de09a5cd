/**
 * SessionDO: one recorded session's live state. It holds the launcher's control socket and the live viewers,
 * keeps the piece index, enforces the deadlines with its one alarm, and seals the recording when it ends.
 */
import { DurableObject } from 'cloudflare:workers';
import { type LauncherMessage, type ServerControlMessage, welcomePolicy } from '../protocol/control.ts';
import { FLOOD_COOLDOWN_MS, type SocketRole } from '../protocol/frame-budget.ts';
import { acceptsRecording, apply, isOngoing, isSealed, type Phase, phaseOf } from '../protocol/lifecycle.ts';
import type { EndReason } from '../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING, HEARTBEAT_PONG, PROTOCOL_VERSION } from '../protocol/version.ts';
import type { Viewer, ViewerServerMessage } from '../protocol/viewer.ts';
import { activitySummary } from '../server/activity/digest.ts';
import { activityPartitions } from '../server/activity/partitions.ts';
import { issueIngestToken } from '../server/auth/ingest-token.ts';
import { database } from '../server/db/index.ts';
import {
  copyPieceIndex,
  markEnded,
  markSealed,
  markStarted,
  recordCapture,
  recordEndpoints,
} from '../server/db/session-directory.ts';
import { enqueueAutomatic } from '../server/processing/jobs.ts';
import { storageBuckets } from '../server/storage.ts';
import { ActivitySaves } from './activity-saves.ts';
import type { BeginPiece, LiveState, PieceCommit, Refusal, SessionInit, TerminateOutcome } from './api.ts';
import { dueDeadline, nextAlarm, type WarnedReason } from './deadlines.ts';
import { type PublishOutcome, SessionEvidence } from './evidence.ts';
import { jsonError, parseLauncherMessage, sendControl } from './launcher-socket.ts';
import { missingRanges } from './live-cursor.ts';
import { SealRefused, sealRecording, sweepAttempts } from './seal.ts';
import { RECORD_VERSION, RecordUnreadable, type SessionRecord } from './session-record.ts';
import { type PieceRow, SessionStore } from './session-store.ts';
import { attachmentOf, closeSocket, launcherAttachment, remember } from './socket-state.ts';
import { sendJson, VIEWER_TAG, ViewerFanout } from './viewer-fanout.ts';

const LAUNCHER_TAG = 'launcher';
/** How long terminate and message wait for the launcher to confirm delivery. */
const DELIVERY_WAIT_MS = 5_000;
/** Sealing is retried after these delays, then the recording is marked failed. */
const SEAL_RETRY_MS = [10_000, 60_000, 300_000];
const DEFAULT_TERMINATE_MESSAGE = 'Your session was terminated by an administrator.';

function refuse(status: 404 | 409, code: string, message: string): Refusal {
  return { kind: 'refused', status, code, message };
}

export class SessionDO extends DurableObject<Env> {
  readonly #store: SessionStore;
  readonly #fanout: ViewerFanout;
  readonly #evidence: SessionEvidence;
  #record: SessionRecord | null;
  /** Set when the stored record failed validation: the object then refuses every call. */
  #unreadable: RecordUnreadable | null = null;
  readonly #deliveries = new Map<string, () => void>();
  /** True while a seal runs: a piece stored now could miss the sealed file, so uploads wait (and retry). */
  #sealing = false;
  /** The alarm as last set by this instance; undefined until read from storage. */
  #alarmAt: number | null | undefined;
  /** Until when each client closed for flooding may not open its socket again (`socketFlooded`). */
  readonly #floodedUntil = new Map<string, number>();
  /** `activity` is saved at most every few seconds (the Worker limits how many come at all: socket-relay.ts). */
  readonly #activitySaves = new ActivitySaves();
  /** The launcher's capture statuses, written to D1 in the order they came. */
  #captureWrites: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new SessionStore(ctx.storage.sql);
    try {
      this.#record = this.#store.load();
    } catch (error) {
      // Every call says so (#readable) and nothing is written: the record stays as it was found, for a person.
      if (!(error instanceof RecordUnreadable)) throw error;
      console.error('session object refuses to run on its stored record', ctx.id.toString(), error.message);
      this.#record = null;
      this.#unreadable = error;
    }
    // Until a record exists nothing is read or written; then its storage location says where.
    const bucket = () => storageBuckets(env, this.#record?.storage).recordings;
    this.#fanout = new ViewerFanout(
      ctx,
      this.#store,
      bucket,
      () => this.#record?.sessionId ?? '',
      () => this.#record?.format ?? 'webm',
    );
    this.#evidence = new SessionEvidence(
      this.#store,
      bucket,
      () => env.WITNESS_SIGNING_KEY,
      (sessionId, createdAt) => activitySummary(activityPartitions(env).forSession(createdAt), sessionId),
    );
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  /** Called once by the launch route; repeating it changes nothing. */
  async init(init: SessionInit): Promise<void> {
    this.#readable();
    if (this.#record) return;
    this.#record = {
      version: RECORD_VERSION,
      ...init,
      status: 'pending',
      endReason: null,
      startedAt: null,
      endedAt: null,
      lastActivityAt: null,
      reportsActivity: false,
      launcherLostAt: null,
      lastHeardAt: null,
      recordingStatus: init.policy.recordingEnabled ? 'recording' : 'disabled',
      declaredLastSeq: null,
      launcherFinished: false,
      sealAt: null,
      sealAttempts: 0,
      recordingError: null,
      endpoints: null,
      warnedFor: null,
    };
    await this.#commit();
  }

  /** First step of a media PUT: may this sequence number be stored now? */
  async beginPiece(seq: number): Promise<BeginPiece> {
    this.#readable();
    const record = this.#record;
    if (!record) return refuse(404, 'session_not_found', 'No such session.');
    if (!record.policy.recordingEnabled) {
      return refuse(409, 'recording_disabled', 'Recording is off for this session.');
    }
    const phase = this.#phase();
    if (phase === 'sealing') return refuse(409, 'upload_in_progress', 'The recording is being sealed; retry shortly.');
    if (!acceptsRecording(phase)) {
      return refuse(409, 'recording_sealed', 'The session ended and its recording is sealed.');
    }
    if (record.declaredLastSeq !== null && seq > record.declaredLastSeq) {
      return refuse(409, 'seq_beyond_end', `The launcher ended the recording at piece ${record.declaredLastSeq}.`);
    }
    const stored = this.#store.piece(seq);
    if (stored) return { kind: 'stored', format: record.format, sha256: stored.sha256, size: stored.size };
    const attempt = this.#store.claimUpload(seq, Date.now());
    if (attempt === null) return refuse(409, 'upload_in_progress', `Piece ${seq} is being uploaded; retry.`);
    return {
      kind: 'go',
      format: record.format,
      keystrokes: record.policy.keystrokesEnabled,
      attempt,
      storage: record.storage,
    };
  }

  /**
   * An attempt's bytes are durably in R2 under its own key: make them the piece, if the attempt still holds its
   * claim and the recording is still open. Index it, count it as activity if need be, and fan it out to viewers.
   * A refused attempt's object is the caller's to delete; nothing acknowledged is ever replaced.
   */
  async pieceStored(piece: Omit<PieceRow, 'storedAt'> & { attempt: string }): Promise<PieceCommit> {
    this.#readable();
    const record = this.#requireRecord();
    const now = Date.now();
    const existing = this.#store.piece(piece.seq);
    if (existing) return { kind: 'exists', sha256: existing.sha256, size: existing.size };
    if (!acceptsRecording(this.#phase())) {
      return refuse(409, 'recording_sealed', 'The recording was sealed while this piece was uploading.');
    }
    if (!this.#store.holdsClaim(piece.seq, piece.attempt)) {
      return refuse(
        409,
        'upload_superseded',
        `This upload of piece ${piece.seq} outlived its lease and another upload took it over; retry.`,
      );
    }
    this.#store.addPiece({ ...piece, storedAt: now });
    record.lastHeardAt = now;
    if (this.#phase() === 'launched') this.#start(now);
    if (!record.reportsActivity && this.#phase() === 'live') record.lastActivityAt = now;
    if (this.#phase() === 'ended' && this.#allDeclaredPiecesStored()) record.sealAt = now;
    await this.#commit();
    void this.#fanout.pump();
    await this.#evidence.extendChain(record.sessionId, piece);
    return { kind: 'stored', storedAt: now };
  }

  /** A media PUT failed after `beginPiece`: free its sequence number for a retry (if the attempt still holds it). */
  async abortPiece(seq: number, attempt: string): Promise<void> {
    this.#readable();
    this.#store.releaseUpload(seq, attempt);
  }

  /** Which object holds stored piece `seq`, or null when it is not stored. */
  async pieceObject(seq: number): Promise<{ attempt: string | null; size: number } | null> {
    this.#readable();
    const piece = this.#store.piece(seq);
    return piece && { attempt: piece.attempt, size: piece.size };
  }

  /** Admin command: show a message, or terminate (the session ends whether or not the launcher hears it). */
  async terminate(command: { mode: 'message' | 'terminate'; message: string }): Promise<TerminateOutcome> {
    this.#readable();
    const record = this.#record;
    if (!record) return refuse(404, 'session_not_found', 'No such session.');
    if (!isOngoing(this.#phase())) {
      return refuse(409, 'session_ended', `The session already ended (${record.endReason}).`);
    }
    const id = crypto.randomUUID();
    if (command.mode === 'message') {
      const delivered = await this.#deliver({ type: 'message', id, text: command.message });
      return { kind: 'done', delivered, status: record.status, endReason: null };
    }
    const delivered = await this.#deliver({
      type: 'terminate',
      id,
      message: command.message || DEFAULT_TERMINATE_MESSAGE,
    });
    if (isOngoing(this.#phase())) await this.#end('terminated_by_admin');
    return { kind: 'done', delivered, status: 'ended', endReason: 'terminated_by_admin' };
  }

  /** Writes the signed manifest again from this object's records (the API asks when storage lacks it). */
  async publishManifest(): Promise<PublishOutcome> {
    this.#readable();
    const record = this.#record;
    if (!record) return { kind: 'failed', message: 'No such session.' };
    return this.#evidence.publish(record);
  }

  /** What only the live object knows: sockets, pieces so far. */
  async liveState(): Promise<LiveState | null> {
    this.#readable();
    const record = this.#record;
    if (!record) return null;
    const totals = this.#store.totals();
    const last = Math.max(totals.lastSeq ?? -1, record.declaredLastSeq ?? -1);
    return {
      status: record.status,
      endReason: record.endReason,
      launcherConnected: this.#launchers().length > 0,
      viewers: this.#fanout.viewers(),
      pieces: totals.pieces,
      bytes: totals.bytes,
      lastSeq: totals.lastSeq,
      missingPieces: missingRanges(this.#store.storedSeqs(), last),
      lastActivityAt: record.lastActivityAt,
      // Until the seal has written the manifest and told D1, the recording is not ready to be served.
      recordingStatus: this.#phase() === 'sealing' ? 'finalizing' : record.recordingStatus,
    };
  }

  /**
   * The Worker closed a socket of `role` for flooding (worker/socket-relay.ts): the same client's next upgrades
   * are refused for FLOOD_COOLDOWN_MS. Kept in memory: a cool-down, not a record.
   */
  async socketFlooded(role: SocketRole, who: string | null): Promise<void> {
    this.#readable();
    this.#floodedUntil.set(`${role}:${who ?? ''}`, Date.now() + FLOOD_COOLDOWN_MS);
  }

  /** WebSocket upgrades, already authenticated by the Worker, which names the role in `x-witness-socket`. */
  override async fetch(request: Request): Promise<Response> {
    this.#readable();
    const record = this.#record;
    if (!record) return jsonError(404, 'session_not_found', 'No such session.');
    const role = request.headers.get('x-witness-socket');
    const who = role === 'viewer' ? (request.headers.get('x-witness-principal') ?? '') : '';
    const until = this.#floodedUntil.get(`${role}:${who}`) ?? 0;
    if (until > Date.now()) {
      const seconds = Math.ceil((until - Date.now()) / 1000);
      const refused = jsonError(
        429,
        'too_many_connections',
        `This socket was closed for sending too much; reconnect in ${seconds} s.`,
      );
      refused.headers.set('retry-after', String(seconds));
      return refused;
    }
    const { 0: client, 1: server } = new WebSocketPair();
    if (role === 'launcher') {
      this.ctx.acceptWebSocket(server, [LAUNCHER_TAG]);
      const seenFrom = request.headers.get('x-witness-peer-address')?.slice(0, 64) || null;
      remember(server, { role: 'launcher', greeted: false, seenFrom }, record.sessionId);
    } else if (role === 'viewer') {
      if (!isOngoing(this.#phase())) {
        return jsonError(409, 'session_ended', 'The session has ended; play its recording.');
      }
      const viewer = JSON.parse(request.headers.get('x-witness-viewer') ?? '{}') as Viewer;
      const tab = request.headers.get('x-witness-viewer-tab');
      this.ctx.acceptWebSocket(server, [VIEWER_TAG]);
      remember(server, { role: 'viewer', viewer, tab, sentUpTo: -1, caughtUp: false }, record.sessionId);
      this.#fanout.replaceTab(server, tab);
      this.#json(server, {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        sessionId: record.sessionId,
        status: record.status,
        recording: record.policy.recordingEnabled,
        viewers: this.#fanout.viewers(),
      });
      this.#fanout.announceViewers(server);
      void this.#fanout.join(server);
    } else {
      return jsonError(400, 'bad_socket_role', 'Unknown socket role.');
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#readable();
    const attachment = attachmentOf(ws);
    if (attachment.role === 'viewer') {
      this.#json(ws, { type: 'error', code: 'unexpected_message', message: 'Viewers only send heartbeats.' });
      return;
    }
    const parsed = parseLauncherMessage(message);
    if (!parsed.ok) return this.#control(ws, { type: 'error', code: 'invalid_message', message: parsed.error });
    const msg = parsed.message;
    if (this.#record) this.#record.lastHeardAt = Date.now(); // saved with the next commit; heartbeats cover the rest
    if (msg.type !== 'hello' && !attachment.greeted) {
      return this.#control(ws, { type: 'error', code: 'hello_first', message: 'Send hello first.' });
    }
    switch (msg.type) {
      case 'hello':
        return this.#hello(ws, msg);
      case 'activity':
        if (this.#record && this.#phase() === 'live') {
          this.#record.lastActivityAt = Date.now();
          if (this.#activitySaves.due(this.#record.lastActivityAt)) await this.#commit();
        }
        return;
      case 'delivered':
        this.#deliveries.get(msg.id)?.();
        return;
      case 'renew':
        return this.#renewToken(ws);
      case 'capture':
        // Straight to the session's row, one write after the other so the last word wins: the object decides
        // nothing by it (docs/launcher.md, "Processes").
        if (this.#record) {
          const { sessionId } = this.#record;
          this.#captureWrites = this.#captureWrites
            .catch(() => {})
            .then(() => recordCapture(database(this.env.DB), sessionId, msg.capture));
          this.ctx.waitUntil(this.#captureWrites);
        }
        return;
      case 'end':
        return this.#launcherEnded(msg.lastSeq);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.#readable();
    const attachment = attachmentOf(ws);
    if (attachment.role === 'viewer') {
      this.#fanout.announceViewers();
      return;
    }
    const record = this.#record;
    const others = this.#launchers().filter((other) => other !== ws);
    if (record && this.#phase() === 'live' && others.length === 0 && code !== CloseCode.replaced) {
      record.launcherLostAt = Date.now() + Number(this.env.LAUNCHER_GRACE_SECONDS) * 1000;
      await this.#commit();
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1006);
  }

  /**
   * The server is about to stop (protocol/server-restart.ts): every live viewer's socket is closed with 1012,
   * so the console says the server is restarting and reconnects, rather than seeing a bare 1006. Returns how
   * many were closed.
   */
  async serverRestarting(reason: string): Promise<number> {
    this.#readable();
    const viewers = this.#fanout.viewerSockets();
    for (const ws of viewers) closeSocket(ws, CloseCode.serverRestart, reason, this.#sessionId());
    return viewers.length;
  }

  override async alarm(): Promise<void> {
    this.#readable();
    this.#alarmAt = null; // the runtime cleared the alarm that fired
    const record = this.#record;
    if (!record) return;
    this.#heardFromSockets();
    const due = dueDeadline(this.#deadlineState(), Date.now());
    if (due?.kind === 'end') await this.#end(due.reason);
    else if (due?.kind === 'seal') await this.#seal();
    else if (due?.kind === 'warn') await this.#warn(due.reason, due.endsAt);
    else await this.#commit(); // woke early (activity moved a deadline): set the alarm again
  }

  /**
   * Heartbeats are answered by the runtime without waking this object: the last one each launcher socket got
   * is read here. Sockets that died with a crashed server are simply gone, so a launcher nobody hears from is
   * lost after the grace period whether or not a close was ever seen.
   */
  #heardFromSockets(): void {
    const record = this.#requireRecord();
    for (const ws of this.#launchers()) {
      const beat = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null;
      if (beat !== null && beat > (record.lastHeardAt ?? 0)) record.lastHeardAt = beat;
    }
  }

  /** Where the session is in its lifecycle (protocol/lifecycle.ts): every decision below asks this. */
  #phase(): Phase {
    return phaseOf(this.#requireRecord(), this.#sealing);
  }

  #sessionId(): string {
    return this.#record?.sessionId ?? this.ctx.id.toString();
  }

  #control(ws: WebSocket, message: ServerControlMessage): void {
    sendControl(ws, message, this.#sessionId());
  }

  #json(ws: WebSocket, message: ViewerServerMessage): void {
    sendJson(ws, message, this.#sessionId());
  }

  /** Throws, on every call, what was wrong with a stored record this object could not read. */
  #readable(): void {
    if (this.#unreadable) throw this.#unreadable;
  }

  #deadlineState() {
    return { ...this.#requireRecord(), launcherGraceMs: Number(this.env.LAUNCHER_GRACE_SECONDS) * 1000 };
  }

  #requireRecord(): SessionRecord {
    if (!this.#record) throw new Error('session not initialised');
    return this.#record;
  }

  #launchers(): WebSocket[] {
    return this.ctx.getWebSockets(LAUNCHER_TAG);
  }

  #start(now: number): void {
    const record = this.#requireRecord();
    Object.assign(record, apply(record, 'start'));
    record.startedAt = now;
    record.lastActivityAt = now;
    this.ctx.waitUntil(markStarted(database(this.env.DB), record.sessionId, now));
  }

  async #hello(ws: WebSocket, hello: Extract<LauncherMessage, { type: 'hello' }>): Promise<void> {
    const record = this.#requireRecord();
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#control(ws, {
        type: 'error',
        code: 'unsupported_protocol',
        message: `This server speaks protocol ${PROTOCOL_VERSION}.`,
      });
      closeSocket(ws, CloseCode.unsupportedVersion, 'unsupported protocol version', this.#sessionId());
      return;
    }
    for (const other of this.#launchers()) {
      if (other !== ws) closeSocket(other, CloseCode.replaced, 'replaced by a newer connection', this.#sessionId());
    }
    const { seenFrom } = launcherAttachment(ws);
    remember(ws, { role: 'launcher', greeted: true, seenFrom }, record.sessionId);
    const endpoints = { host: hello.host ?? null, client: hello.client ?? null, seenFrom };
    if (JSON.stringify(endpoints) !== JSON.stringify(record.endpoints)) {
      record.endpoints = endpoints;
      this.ctx.waitUntil(recordEndpoints(database(this.env.DB), record.sessionId, endpoints));
    }
    const now = Date.now();
    if (this.#phase() === 'launched') this.#start(now);
    record.reportsActivity = hello.reportsActivity;
    record.launcherLostAt = null;
    this.#control(ws, {
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      sessionId: record.sessionId,
      status: record.status,
      ...welcomePolicy(record.policy),
      storedSeqs: this.#store.recentSeqs(),
      session: { user: record.user, target: record.target, protocol: record.protocol, format: record.format },
    });
    if (!isOngoing(this.#phase()) && record.endReason) this.#control(ws, { type: 'ended', reason: record.endReason });
    await this.#commit();
  }

  /**
   * Tells the user, the way admin messages reach them (a dialog from the launcher, a line on the SSH terminal),
   * that the session will end at `endsAt` unless they act; once per reason and end time.
   */
  async #warn(reason: WarnedReason, endsAt: number): Promise<void> {
    const record = this.#requireRecord();
    record.warnedFor = { reason, endsAt };
    const seconds = Math.max(1, Math.round((endsAt - Date.now()) / 1000));
    const text =
      reason === 'inactivity_timeout'
        ? `This recorded session will end in ${seconds} s because of inactivity. Press a key or move the mouse to keep it open.`
        : `This recorded session reaches its maximum length and will end in ${seconds} s. Save your work.`;
    const sockets = this.#launchers().filter((ws) => launcherAttachment(ws).greeted);
    for (const ws of sockets) this.#control(ws, { type: 'message', id: crypto.randomUUID(), text });
    await this.#commit();
  }

  async #renewToken(ws: WebSocket): Promise<void> {
    const record = this.#requireRecord();
    if (isSealed(this.#phase())) {
      return this.#control(ws, { type: 'error', code: 'recording_sealed', message: 'The session is over.' });
    }
    const issued = await issueIngestToken(
      this.env.WITNESS_TOKEN_SECRET,
      record.sessionId,
      Number(this.env.INGEST_TOKEN_TTL_SECONDS),
    );
    this.#control(ws, { type: 'token', token: issued.token, expiresAt: issued.expiresAt.toISOString() });
  }

  async #launcherEnded(lastSeq: number | null): Promise<void> {
    const record = this.#requireRecord();
    const stored = this.#store.totals().lastSeq;
    // The launcher can't un-produce pieces we already hold: never let its count shrink the recording.
    record.declaredLastSeq = Math.max(lastSeq ?? -1, stored ?? -1, record.declaredLastSeq ?? -1);
    if (record.declaredLastSeq < 0) record.declaredLastSeq = null;
    record.launcherFinished = true;
    if (isOngoing(this.#phase())) await this.#end('ended_by_user');
    else if (this.#phase() === 'ended' && this.#allDeclaredPiecesStored()) {
      record.sealAt = Date.now();
      await this.#commit();
    }
  }

  #allDeclaredPiecesStored(): boolean {
    const record = this.#requireRecord();
    if (!record.launcherFinished) return false;
    return this.#store.totals().pieces === (record.declaredLastSeq ?? -1) + 1;
  }

  /** Sends a command to the launcher and waits (briefly) for it to confirm; false if nobody heard it. */
  async #deliver(command: Extract<ServerControlMessage, { type: 'message' | 'terminate' }>): Promise<boolean> {
    const sockets = this.#launchers().filter((ws) => launcherAttachment(ws).greeted);
    if (sockets.length === 0) return false;
    const confirmed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), DELIVERY_WAIT_MS);
      this.#deliveries.set(command.id, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    for (const ws of sockets) this.#control(ws, command);
    const delivered = await confirmed;
    this.#deliveries.delete(command.id);
    return delivered;
  }

  async #end(reason: EndReason): Promise<void> {
    const record = this.#requireRecord();
    const now = Date.now();
    Object.assign(record, apply(record, record.policy.recordingEnabled ? 'end' : 'endUnrecorded'));
    record.endReason = reason;
    record.endedAt = now;
    record.launcherLostAt = null;
    if (record.policy.recordingEnabled) {
      record.sealAt = this.#allDeclaredPiecesStored() ? now : now + Number(this.env.SEAL_GRACE_SECONDS) * 1000;
    }
    for (const ws of this.#launchers()) {
      this.#control(ws, { type: 'ended', reason });
      if (!record.policy.recordingEnabled) closeSocket(ws, CloseCode.sessionEnded, 'session ended', this.#sessionId());
    }
    this.#fanout.broadcast({ type: 'ended', reason });
    for (const ws of this.#fanout.viewerSockets())
      closeSocket(ws, CloseCode.sessionEnded, 'session ended', this.#sessionId());
    await this.#commit();
    if (!record.policy.recordingEnabled) await this.#evidence.publish(record); // nothing to seal: sealed now
    await markEnded(database(this.env.DB), record.sessionId, {
      reason,
      endedAt: now,
      durationMs: record.startedAt === null ? 0 : now - record.startedAt,
      recordingStatus: record.recordingStatus,
    });
  }

  async #seal(): Promise<void> {
    if (this.#sealing) return;
    const record = this.#requireRecord();
    const now = Date.now();
    const uploadsUntil = this.#store.uploadsInFlightUntil(now);
    if (uploadsUntil !== null) {
      record.sealAt = uploadsUntil + 1_000; // let in-flight pieces land first
      return this.#commit();
    }
    this.#sealing = true;
    try {
      await this.#sealPieces(now);
    } finally {
      this.#sealing = false;
    }
  }

  /** Seals what is stored now: nothing new can be stored meanwhile (`beginPiece` refuses while sealing). */
  async #sealPieces(now: number): Promise<void> {
    const record = this.#requireRecord();
    const pieces = this.#store.allPieces();
    const totals = this.#store.totals();
    const last = Math.max(totals.lastSeq ?? -1, record.declaredLastSeq ?? -1);
    const missing = missingRanges(
      pieces.map((p) => p.seq),
      last,
    );
    let recordingBytes: number | null = null;
    let mediaDurationMs: number | null = null;
    if (pieces.length === 0) {
      Object.assign(record, apply(record, 'sealed', true, 'empty'));
    } else {
      try {
        const result = await sealRecording(
          storageBuckets(this.env, record.storage).recordings,
          record.sessionId,
          record.format,
          pieces,
        );
        await this.#evidence.recordingSealed(record.sessionId, record.format, result.mediaDurationMs);
        Object.assign(record, apply(record, 'sealed', true, 'ready'));
        record.recordingError = null;
        recordingBytes = result.bytes;
        mediaDurationMs = result.mediaDurationMs;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error('sealing failed', record.sessionId, message);
        record.recordingError = message;
        // A piece that differs from its hash (or no init segment, no frames) stays so: fail now, loudly.
        const retry = error instanceof SealRefused ? undefined : SEAL_RETRY_MS[record.sealAttempts];
        record.sealAttempts++;
        if (retry !== undefined) {
          Object.assign(record, apply(record, 'retrySeal', true));
          record.sealAt = now + retry;
          return this.#commit();
        }
        Object.assign(record, apply(record, 'sealFailed', true));
      }
    }
    record.sealAt = null;
    await sweepAttempts(
      storageBuckets(this.env, record.storage).recordings,
      record.sessionId,
      record.format,
      pieces,
    ).catch((error: unknown) => {
      console.error('sweeping unacknowledged upload attempts failed', record.sessionId, error);
    });
    await this.#evidence.publish(record); // before D1 says sealed, so the API never finds a sealed session bare
    const db = database(this.env.DB);
    await copyPieceIndex(
      db,
      pieces.map((p) => ({ sessionId: record.sessionId, ...p })),
    );
    await markSealed(db, record.sessionId, {
      recordingStatus: record.recordingStatus,
      bytes: totals.bytes,
      pieces: totals.pieces,
      missingPieces: missing,
      recordingBytes,
      mediaDurationMs,
      recordingError: record.recordingError,
    });
    // With on-demand processing off, a sealed video is queued for its MP4 now (server/processing/jobs.ts).
    await enqueueAutomatic(db, record.sessionId, record.format, record.recordingStatus).catch((error: unknown) => {
      console.error('queueing the MP4 of a sealed recording failed', record.sessionId, error);
    });
    await this.#commit();
    for (const ws of this.#launchers()) closeSocket(ws, CloseCode.sessionEnded, 'recording sealed', this.#sessionId());
  }

  /**
   * Saves the record and makes sure the alarm fires no later than the next deadline. An alarm already set
   * earlier is left alone: alarms are wake-ups, and one that finds nothing due sets itself again. So the
   * inactivity deadline, which moves with every piece, costs no storage operation per piece.
   */
  async #commit(): Promise<void> {
    const record = this.#requireRecord();
    this.#store.save(record);
    const next = nextAlarm(this.#deadlineState());
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (next === null) {
      if (this.#alarmAt !== null) await this.ctx.storage.deleteAlarm();
    } else if (this.#alarmAt === null || next < this.#alarmAt) {
      await this.ctx.storage.setAlarm(next);
    } else {
      return;
    }
    this.#alarmAt = next;
  }
}
