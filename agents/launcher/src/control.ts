/**
 * The control WebSocket to the session's Durable Object: hello/welcome, heartbeats, token renewal,
 * admin messages and terminate, and reconnecting with backoff until the session is over.
 */
import WebSocket from 'ws';
import { type LauncherMessage, ServerControlMessage } from '../../../protocol/control.ts';
import { ErrorBody } from '../../../protocol/ingest.ts';
import type { EndReason } from '../../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING, HEARTBEAT_PONG } from '../../../protocol/version.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import type { Logger } from './log.ts';
import type { IngestToken } from './token.ts';

type Welcome = Extract<ServerControlMessage, { type: 'welcome' }>;
type Hello = Extract<LauncherMessage, { type: 'hello' }>;

export interface ControlHandlers {
  welcome(message: Welcome, first: boolean): void;
  message(message: Extract<ServerControlMessage, { type: 'message' }>): void;
  terminate(message: Extract<ServerControlMessage, { type: 'terminate' }>): void;
  /** The session is over (`ended` message, or close code 4000 with reason null). Called once. */
  ended(reason: EndReason | null): void;
  /** The channel cannot go on (replaced, refused, protocol error). Called once; no reconnect follows. */
  fatal(reason: string): void;
}

export interface ControlChannelOptions {
  server: string;
  session: string;
  token: IngestToken;
  hello: Hello;
  log: Logger;
  handlers: ControlHandlers;
  /** Ping interval; the socket counts as dead after two intervals without a pong. */
  heartbeatMs?: number;
  backoff?: BackoffOptions;
}

export const DEFAULT_HEARTBEAT_MS = 15_000;
/** How often the token's remaining life is checked. */
const TOKEN_CHECK_MS = 1_000;

export class ControlChannel {
  readonly #options: ControlChannelOptions;
  readonly #heartbeatMs: number;
  readonly #backoff: Backoff;
  #ws: WebSocket | null = null;
  #welcomed = false;
  #everWelcomed = false;
  /** Set once the session is over, the channel failed, or `close` was called: no more reconnects. */
  #finished = false;
  /** The server said the session is over; the open socket may still carry `end`. */
  #sessionIsOver = false;
  #lastPongAt = 0;
  #heartbeat: NodeJS.Timeout | null = null;
  #tokenCheck: NodeJS.Timeout | null = null;
  #reconnect: NodeJS.Timeout | null = null;
  /** Messages that must reach the server, held while disconnected (delivered, end). */
  #outbox: LauncherMessage[] = [];
  #welcomeWaiters = new Set<() => void>();
  #closedWaiters = new Set<() => void>();
  /** Connections opened, for the summary and tests. */
  connections = 0;

  constructor(options: ControlChannelOptions) {
    this.#options = options;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#backoff = new Backoff(options.backoff);
  }

  /** Connected and welcomed. */
  get ready(): boolean {
    return this.#welcomed && this.#ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.#tokenCheck = setInterval(() => this.#maybeRenew(), TOKEN_CHECK_MS);
    this.#connect();
  }

  /**
   * Sends a message now, or (with `hold`) as soon as the next connection is welcomed.
   * Returns whether it was sent now.
   */
  send(message: LauncherMessage, hold = false): boolean {
    if (this.ready) {
      (this.#ws as WebSocket).send(JSON.stringify(message satisfies LauncherMessage));
      return true;
    }
    if (hold) this.#outbox.push(message);
    return false;
  }

  /** An upload was refused for its token: ask for a new one without waiting for the next check. */
  renewNow(): void {
    this.#maybeRenew();
  }

  /** Resolves once a connection is welcomed (true) or after `timeoutMs` / when the channel is finished (false). */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.#finished) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#welcomeWaiters.delete(wake);
        resolve(this.ready);
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#welcomeWaiters.add(wake);
    });
  }

  /** Stops reconnecting and closes the socket with 1000; resolves when it is closed (or after 5 s). */
  close(): Promise<void> {
    this.#finish();
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 5_000);
      this.#closedWaiters.add(() => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(CloseCode.normal, 'launcher done');
    });
  }

  #finish(): void {
    this.#finished = true;
    for (const timer of [this.#heartbeat, this.#reconnect]) if (timer) clearTimeout(timer);
    if (this.#tokenCheck) clearInterval(this.#tokenCheck);
    this.#heartbeat = this.#reconnect = this.#tokenCheck = null;
    for (const wake of [...this.#welcomeWaiters]) wake();
  }

  #connect(): void {
    const { server, session, token, log } = this.#options;
    const url = `${server.replace(/^http/, 'ws')}/ingest/v1/sessions/${encodeURIComponent(session)}/control`;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token.value}` },
      handshakeTimeout: 15_000,
      perMessageDeflate: false,
    });
    this.#ws = ws;
    this.connections++;
    let refusal: { status: number; text: string } | null = null;

    ws.on('unexpected-response', (_req, res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => {
        if (parts.length < 16) parts.push(part);
      });
      res.on('end', () => {
        refusal = { status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') };
        ws.terminate();
      });
      res.on('error', () => ws.terminate());
    });
    ws.on('open', () => {
      log.debug('control socket open; sending hello');
      this.#lastPongAt = Date.now();
      ws.send(JSON.stringify(this.#options.hello satisfies LauncherMessage));
      this.#heartbeat = setInterval(() => this.#beat(ws), this.#heartbeatMs);
    });
    ws.on('message', (data, isBinary) => this.#receive(ws, data, isBinary));
    ws.on('error', (error) => log.debug(`control socket: ${error.message}`));
    ws.on('close', (code, reasonBuffer) => {
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      this.#heartbeat = null;
      this.#welcomed = false;
      token.renewAbandoned();
      for (const wake of [...this.#closedWaiters]) wake();
      this.#closedWaiters.clear();
      if (this.#ws === ws) this.#ws = null;
      if (this.#sessionIsOver) this.#finish();
      if (this.#finished) return;
      const reason = reasonBuffer.toString('utf8');
      if (refusal) {
        this.#refused(refusal.status, refusal.text);
        return;
      }
      if (code === CloseCode.sessionEnded) {
        this.#sessionOver(null);
        return;
      }
      if (code === CloseCode.replaced) {
        this.#fatal('another launcher connection replaced this one (close 4001)');
        return;
      }
      if (code === CloseCode.protocolError || code === CloseCode.unsupportedVersion) {
        this.#fatal(`the server closed the control socket: ${code} ${reason}`);
        return;
      }
      this.#scheduleReconnect(`control socket closed (${code}${reason ? ` ${reason}` : ''})`);
    });
  }

  #refused(status: number, text: string): void {
    const parsed = ErrorBody.safeParse(safeJson(text));
    const detail = parsed.success ? `${parsed.data.error.code}: ${parsed.data.error.message}` : `HTTP ${status}`;
    if (status === 409 || status === 410) {
      this.#options.log.info(`the server says the session is over (${detail})`);
      this.#sessionOver(null);
      return;
    }
    if (status === 400 || status === 401 || status === 403 || status === 404) {
      this.#fatal(`the server refused the control socket (HTTP ${status} ${detail})`);
      return;
    }
    this.#scheduleReconnect(`control socket refused (${detail})`);
  }

  #scheduleReconnect(why: string): void {
    const delay = this.#backoff.next();
    // Before the first welcome too: a server that cannot be reached at the start is what the user must see.
    this.#options.log.warn(
      `${why}; ${this.#everWelcomed ? 'reconnecting' : 'trying again'} in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#reconnect = setTimeout(() => {
      this.#reconnect = null;
      if (!this.#finished) this.#connect();
    }, delay);
  }

  #beat(ws: WebSocket): void {
    if (Date.now() - this.#lastPongAt > 2 * this.#heartbeatMs) {
      this.#options.log.warn('no heartbeat answer from the server; dropping the control socket');
      ws.terminate();
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(HEARTBEAT_PING);
  }

  #receive(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    const { log, handlers, token } = this.#options;
    if (isBinary) {
      log.warn('ignoring a binary frame on the control socket');
      return;
    }
    const text = data.toString();
    if (text === HEARTBEAT_PONG) {
      this.#lastPongAt = Date.now();
      return;
    }
    // Any traffic shows the socket is alive.
    this.#lastPongAt = Date.now();
    const parsed = ServerControlMessage.safeParse(safeJson(text));
    if (!parsed.success) {
      log.warn(`ignoring an invalid control message: ${text.slice(0, 200)}`);
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'welcome': {
        if (ws !== this.#ws) return;
        const first = !this.#everWelcomed;
        this.#welcomed = true;
        this.#everWelcomed = true;
        this.#backoff.reset();
        log.debug(`welcome: status ${message.status}, ${message.storedSeqs.length} pieces stored`);
        handlers.welcome(message, first);
        const outbox = this.#outbox;
        this.#outbox = [];
        for (const held of outbox) this.send(held, true);
        for (const wake of [...this.#welcomeWaiters]) wake();
        this.#maybeRenew();
        return;
      }
      case 'message':
        handlers.message(message);
        return;
      case 'terminate':
        handlers.terminate(message);
        return;
      case 'token':
        token.replace(message.token, message.expiresAt);
        log.debug(`new ingest token, valid until ${message.expiresAt}`);
        return;
      case 'ended':
        this.#sessionOver(message.reason);
        return;
      case 'error':
        log.warn(`server error on the control socket: ${message.code}: ${message.message}`);
        return;
    }
  }

  #maybeRenew(): void {
    if (!this.ready || !this.#options.token.shouldRenew()) return;
    this.#options.token.renewRequested();
    this.send({ type: 'renew' });
  }

  /** Session over: no reconnects, but a socket still open stays usable for `end` until it closes. */
  #sessionOver(reason: EndReason | null): void {
    const alreadyOver = this.#sessionIsOver;
    this.#sessionIsOver = true;
    if (this.#reconnect) clearTimeout(this.#reconnect);
    if (this.#ws?.readyState !== WebSocket.OPEN) this.#finish();
    if (!alreadyOver) this.#options.handlers.ended(reason);
  }

  #fatal(reason: string): void {
    this.#finish();
    this.#options.handlers.fatal(reason);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
