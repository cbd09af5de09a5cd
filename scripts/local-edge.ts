/**
 * The local edge: for `npm start`, what Cloudflare's edge does in front of the deployed Worker. A thin node:http
 * front on the public port answers requests over Witness's limits (protocol/limits.ts) with the product's JSON
 * error at once, without reading their bodies, and passes everything else, WebSockets included, to the Worker's
 * own workerd (wrangler dev's, past its ProxyWorker; while a reload replaces it, requests wait for the new one).
 * Behind it alone, wrangler dev reads every body to its end before it answers, and answers some failures in
 * plain text (docs/decisions.md, "A local edge in front of wrangler dev").
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '../protocol/ingest.ts';
import {
  BODY_IDLE_TIMEOUT_MS,
  type BodyLimit,
  bodyLimitFor,
  MAX_REQUEST_HEAD_BYTES,
  MAX_URL_BYTES,
} from '../protocol/limits.ts';
import {
  edgeLimit,
  FRAME_LIMITS,
  type FrameLimit,
  freshBudget,
  socketRoleOf,
  spendFrame,
} from '../protocol/frame-budget.ts';
import { FrameWalker, Opcode } from './websocket-frames.ts';
import { type Address, WorkerAddress } from './worker-address.ts';

/** After a refusal, how long the client may go on sending (and reading the answer) before the connection is cut. */
const LINGER_MS = 2_000;
/** workerd closes an idle connection after 15 s: ours to clients do the same, ours to workerd go first. */
const KEEP_ALIVE_MS = 15_000;
const UPSTREAM_IDLE_MS = 10_000;
/** How long a request waits for the Worker while wrangler reloads it (a few hundred ms, more on a busy machine). */
const RELOAD_WAIT_MS = 10_000;
const RELOADING_MESSAGE = 'The local server is reloading the Worker. Retry in a moment.';

/** What the Worker serves itself, always in JSON (the rest is the console's assets). */
const PRODUCT_PATH = /^\/(?:api|ingest)\//;

/** Headers of one connection, not of the message they travel with (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

export interface LocalEdgeOptions {
  host: string;
  port: number;
  /** Where the Worker answers: a fixed address, or wrangler dev's Worker, which moves at each reload. */
  upstream: Address | WorkerAddress;
  /** How long a body may stop arriving before it is given up (408); BODY_IDLE_TIMEOUT_MS unless a test says. */
  bodyIdleTimeoutMs?: number;
  /** How long a request waits for an upstream address while there is none; RELOAD_WAIT_MS unless a test says. */
  reloadWaitMs?: number;
}

/** What every exchange of one edge shares. */
interface Forwarding {
  agent: http.Agent;
  upstream: WorkerAddress;
  bodyIdleTimeoutMs: number;
  reloadWaitMs: number;
}

/** Listens on `host:port`; resolves once listening. */
export function startLocalEdge(options: LocalEdgeOptions): Promise<http.Server> {
  const forwarding: Forwarding = {
    agent: new http.Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS }),
    upstream: options.upstream instanceof WorkerAddress ? options.upstream : new WorkerAddress(options.upstream),
    bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? BODY_IDLE_TIMEOUT_MS,
    reloadWaitMs: options.reloadWaitMs ?? RELOAD_WAIT_MS,
  };
  const exchanges = new WeakMap<Duplex, Exchange>();
  const server = http.createServer({ maxHeaderSize: MAX_REQUEST_HEAD_BYTES, keepAliveTimeout: KEEP_ALIVE_MS });
  const begin = (expectsContinue: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const exchange = new Exchange(req, res, forwarding);
    exchanges.set(req.socket, exchange);
    res.once('close', () => exchanges.get(req.socket) === exchange && exchanges.delete(req.socket));
    exchange.start(expectsContinue);
  };
  server.on('request', begin(false));
  // A client that waits for 100 Continue never sends a body we refuse.
  server.on('checkContinue', begin(true));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const exchange = exchanges.get(socket);
    if (exchange) return exchange.clientFailed(error);
    answerOnSocket(socket, ...parseFailure(error));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const now = forwarding.upstream.current;
    if (now) return tunnel(req, socket, head, now);
    void forwarding.upstream.next(forwarding.reloadWaitMs).then((address) => {
      if (socket.destroyed) return;
      if (address) return tunnel(req, socket, head, address);
      answerOnSocket(socket, 503, 'server_reloading', RELOADING_MESSAGE);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

/** One request: checked, then forwarded with its body counted, or answered here. */
class Exchange {
  readonly #req: http.IncomingMessage;
  readonly #res: http.ServerResponse;
  readonly #forwarding: Forwarding;
  #forwarded: http.ClientRequest | null = null;
  #idle: NodeJS.Timeout | null = null;
  /** Whether this exchange is settled here (a refusal, or the upstream's answer has begun). */
  #answered = false;

  constructor(req: http.IncomingMessage, res: http.ServerResponse, forwarding: Forwarding) {
    this.#req = req;
    this.#res = res;
    this.#forwarding = forwarding;
  }

  start(expectsContinue: boolean): void {
    const req = this.#req;
    const target = req.url ?? '/';
    const limit = bodyLimitFor(req.method ?? 'GET', target.split('?', 1)[0] ?? '/');
    const declared = req.headers['content-length'];
    if (target.length > MAX_URL_BYTES) {
      this.refuse(414, 'uri_too_long', `A URL may be at most ${MAX_URL_BYTES} bytes.`);
    } else if (declared === undefined && limit.lengthRequired) {
      this.refuse(411, 'length_required', 'Send Content-Length with this request.');
    } else if (declared !== undefined && Number(declared) > limit.maxBytes) {
      this.tooLarge(limit);
    } else {
      this.#forwardWhenReady(target, limit, expectsContinue, false);
    }
  }

  /** Forwards to where the Worker is, once it is somewhere: a request that comes during a reload waits for it. */
  #forwardWhenReady(target: string, limit: BodyLimit, expectsContinue: boolean, retried: boolean): void {
    const forward = (address: Address) => {
      if (expectsContinue) this.#res.writeContinue();
      this.#forward(target, limit, address, retried);
    };
    const now = this.#forwarding.upstream.current;
    if (now) return void forward(now);
    void this.#forwarding.upstream.next(this.#forwarding.reloadWaitMs).then((address) => {
      if (this.#answered || this.#req.socket.destroyed) return; // refused, or the client left, meanwhile
      if (address) forward(address);
      else this.refuse(503, 'server_reloading', RELOADING_MESSAGE, 1);
    });
  }

  /** The client broke the request off (the connection ended inside the body, or the framing is wrong). */
  clientFailed(error: NodeJS.ErrnoException): void {
    if (this.#req.complete) {
      // What failed is what came after this request (a body longer than its Content-Length, say): this one
      // still gets its answer, and nothing more is read from the connection, which closes after it.
      const socket = this.#req.socket;
      socket.pause();
      if (socket instanceof net.Socket) {
        lingerOnClose(socket);
        this.#res.shouldKeepAlive = false;
        this.#res.once('finish', () => socket.destroySoon());
      }
      return;
    }
    if (error.code === 'HPE_INVALID_EOF_STATE' || error.code === 'ECONNRESET') {
      this.refuse(400, 'incomplete_body', 'The connection ended before the whole body arrived.');
    } else {
      this.refuse(...parseFailure(error));
    }
  }

  refuse(status: number, code: string, message: string, retryAfterSeconds?: number): void {
    this.#stopBody();
    if (this.#answered) {
      // The upstream's answer has begun: all that is left is to cut it short.
      if (!this.#res.writableFinished) this.#res.destroy();
      return;
    }
    this.#answered = true;
    this.#forwarded?.destroy();
    const socket = this.#res.socket;
    if (socket && !socket.writable) return void socket.destroy();
    if (socket instanceof net.Socket) lingerOnClose(socket);
    const body = errorJson(code, message);
    this.#res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    });
    this.#res.end(body);
  }

  tooLarge(limit: BodyLimit): void {
    this.refuse(413, limit.tooLargeCode, `${limit.what} may be at most ${limit.maxBytes} bytes.`);
  }

  /** `retried`: this request is sent again, once, its first attempt lost to a reload. */
  #forward(target: string, limit: BodyLimit, address: Address, retried: boolean): void {
    const req = this.#req;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && req.headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    // As Cloudflare's edge does: the client's own address, never one the client claims.
    headers['cf-connecting-ip'] = req.socket.remoteAddress ?? '';
    const forwarded = http.request({
      host: address.host,
      port: address.port,
      method: req.method,
      path: target,
      headers,
      agent: this.#forwarding.agent,
    });
    this.#forwarded = forwarded;
    forwarded.on('response', (reply) => this.#relay(reply));
    forwarded.on('error', () => {
      if (this.#answered) return;
      if (this.#forwarding.upstream.current === address) {
        return this.refuse(
          502,
          'upstream_unavailable',
          'The local server did not answer; it may be restarting. Retry.',
        );
      }
      // A reload replaced the Worker under this request. As wrangler's ProxyWorker does, a GET or HEAD goes to the
      // new one; anything else may have done its work already, so the client decides.
      const method = req.method ?? 'GET';
      if (!retried && !hasBody && (method === 'GET' || method === 'HEAD')) {
        this.#forwarded = null;
        return this.#forwardWhenReady(target, limit, false, true);
      }
      this.refuse(503, 'server_reloading', 'The local server reloaded the Worker during this request. Retry it.', 1);
    });
    if (!hasBody) return void forwarded.end();

    let received = 0;
    const idleMs = this.#forwarding.bodyIdleTimeoutMs;
    this.#idle = setTimeout(
      () => this.refuse(408, 'body_timeout', `No part of the body arrived for ${idleMs / 1000} s.`),
      idleMs,
    );
    req.on('data', (chunk: Buffer) => {
      if (this.#forwarded !== forwarded || forwarded.destroyed) return;
      this.#idle?.refresh();
      received += chunk.byteLength;
      if (received > limit.maxBytes) return this.tooLarge(limit);
      if (!forwarded.write(chunk)) {
        req.pause();
        forwarded.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      this.#stopBody();
      if (!forwarded.destroyed) forwarded.end();
    });
  }

  #relay(reply: http.IncomingMessage): void {
    if (this.#answered) return void reply.destroy();
    this.#answered = true;
    const status = reply.statusCode ?? 502;
    if (
      status >= 400 &&
      PRODUCT_PATH.test(this.#req.url ?? '') &&
      !/^application\/json\b/i.test(reply.headers['content-type'] ?? '')
    ) {
      this.#answerInJson(reply, status);
      return;
    }
    const headers: string[] = [];
    const raw = reply.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    }
    this.#res.writeHead(reply.statusCode ?? 502, reply.statusMessage, headers);
    this.#res.on('error', () => reply.destroy()); // the client went away
    this.#res.once('close', () => reply.destroy());
    reply.pipe(this.#res);
  }

  /**
   * wrangler and miniflare answer some failures themselves, in plain text (a restart mid-request, a lost
   * connection between their processes); on the product's paths the client gets them in its JSON instead.
   */
  #answerInJson(reply: http.IncomingMessage, status: number): void {
    let text = '';
    reply.setEncoding('utf8');
    reply.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 1024) reply.destroy();
    });
    let done = false;
    const answer = () => {
      if (done) return;
      done = true;
      const message = text.split('\n', 1)[0]?.trim() || (http.STATUS_CODES[status] ?? 'Request failed');
      const body = errorJson(status >= 500 ? 'server_error' : 'bad_request', message.slice(0, 300));
      const retryAfter = reply.headers['retry-after'];
      this.#res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      this.#res.end(body);
    };
    reply.once('end', answer);
    reply.once('close', answer);
  }

  #stopBody(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
  }
}

/** WebSockets (and any other upgrade): the request head goes on as it came, then bytes both ways. */
function tunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer, upstream: Address) {
  const target = req.url ?? '/';
  if (target.length > MAX_URL_BYTES) {
    return answerOnSocket(socket, 414, 'uri_too_long', `A URL may be at most ${MAX_URL_BYTES} bytes.`);
  }
  const lines = [`${req.method} ${target} HTTP/1.1`];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'cf-connecting-ip') lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  lines.push(`cf-connecting-ip: ${req.socket.remoteAddress ?? ''}`);
  let serverSentClose = false;
  const forwarded = net.connect(upstream.port, upstream.host, () => {
    forwarded.write(`${lines.join('\r\n')}\r\n\r\n`);
    relayUpgraded(socket, forwarded, head, limitFor(target), () => (serverSentClose = true));
  });
  forwarded.setNoDelay(true);
  if (socket instanceof net.Socket) socket.setNoDelay(true);
  const close = () => {
    socket.destroy();
    forwarded.destroy();
  };
  forwarded.on('error', () => {
    if (forwarded.bytesRead > 0) return close();
    answerOnSocket(socket, 502, 'upstream_unavailable', 'The local server did not answer; it may be restarting.');
    forwarded.destroy();
  });
  socket.on('error', close);
  socket.on('close', () => forwarded.destroy());
  // Once the server has sent its Close, the client may still answer it: relayUpgraded ends it then.
  forwarded.on('close', () => (serverSentClose ? lingerThenDestroy(socket) : socket.destroy()));
}

/** The edge's budget for a socket on `path` (a session's control or live socket), or null for none. */
function limitFor(path: string): FrameLimit | null {
  const role = socketRoleOf(path);
  return role && edgeLimit(FRAME_LIMITS[role]);
}

function lingerThenDestroy(socket: Duplex): void {
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Bytes both ways as they come, but for two things, both about what a client sends on a session's socket:
 * - Each frame is counted against a budget looser than the Worker's own (`edgeLimit` in protocol/frame-budget.ts).
 *   Past it the edge stops reading the client until the budget refills: the frames wait, none is dropped. The
 *   Worker, which sees them at most at that pace, closes a socket over its own budget and audits it.
 * - Once the server has sent its Close, the client's frames are not passed on, and the connection to the server
 *   is reset, dropping what it has not read yet. After its Close the server discards them anyway (RFC 6455
 *   §5.5.1), but workerd would deliver each one to the Worker as an event of its own. The client's connection is
 *   ended once it answers with its own Close, as the server would (§7.1.1).
 * Without these a client flooding a socket until it sees the Close makes every session of the local server pay for
 * frames nobody reads (docs/decisions.md, "Socket limits in the Worker").
 */
function relayUpgraded(
  client: Duplex,
  server: net.Socket,
  head: Buffer,
  limit: FrameLimit | null,
  onServerClose: () => void,
): void {
  const clientFrames = new FrameWalker();
  const serverFrames = new FrameWalker();
  let responseHead: Buffer | null = Buffer.alloc(0); // null once read
  let upgraded = false;
  let serverClosed = false;
  let budget = limit && freshBudget(limit, Date.now());
  /** What the client sent past its budget, from a frame's first byte: passed on as the budget refills. */
  let held: Buffer | null = null;
  let refill: NodeJS.Timeout | null = null;

  const admit = (opcode: number) => {
    if (!limit || !budget || opcode === Opcode.close) return true;
    const spent = spendFrame(budget, limit, 0, Date.now());
    if (spent.verdict !== 'admit') return false;
    budget = spent.budget;
    return true;
  };
  const fromClient = (chunk: Buffer) => {
    if (serverClosed) return dropUntilClose(chunk);
    if (held) {
      held = Buffer.concat([held, chunk]); // arrived before the pause took hold
      return;
    }
    const admitted = clientFrames.until(chunk, admit);
    if (admitted > 0) pass(chunk.subarray(0, admitted), server, client);
    if (admitted === chunk.byteLength || !limit || !budget) return;
    held = chunk.subarray(admitted);
    client.pause();
    const wait = Math.ceil(((1 - budget.tokens) * 60_000) / limit.perMinute);
    refill = setTimeout(release, Math.max(wait, 1));
  };
  const release = () => {
    const rest = held;
    held = null;
    refill = null;
    client.resume();
    if (rest) fromClient(rest);
  };
  const dropUntilClose = (chunk: Buffer) => {
    if (clientFrames.starts(chunk, Opcode.close)) client.end();
  };
  const fromServer = (chunk: Buffer) => {
    pass(chunk, client, server);
    let frames = chunk;
    if (responseHead) {
      responseHead = Buffer.concat([responseHead, chunk]);
      const end = responseHead.indexOf('\r\n\r\n');
      if (end < 0) {
        if (responseHead.byteLength > MAX_REQUEST_HEAD_BYTES) responseHead = null; // not HTTP: leave it be
        return;
      }
      upgraded = responseHead.subarray(0, 13).toString('latin1') === 'HTTP/1.1 101 ';
      frames = responseHead.subarray(end + 4);
      responseHead = null;
    }
    if (!upgraded || serverClosed || !serverFrames.starts(frames, Opcode.close)) return;
    serverClosed = true;
    onServerClose();
    server.resetAndDestroy();
    if (refill) clearTimeout(refill);
    const rest = held;
    held = null;
    client.resume();
    if (rest) dropUntilClose(rest);
  };

  if (head.byteLength > 0) fromClient(head);
  client.on('data', fromClient);
  server.on('data', fromServer);
  client.on('end', () => server.end());
  server.on('end', () => client.end());
  client.on('close', () => refill && clearTimeout(refill));
}

/** Writes `chunk` to `to`, holding `from` back while `to` is full. */
function pass(chunk: Buffer, to: Duplex, from: Duplex): void {
  if (to.write(chunk)) return;
  from.pause();
  to.once('drain', () => from.resume());
}

/** Status, code and message for a request Node could not parse. */
function parseFailure(error: NodeJS.ErrnoException): [number, string, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', `The URL and headers may be at most ${MAX_REQUEST_HEAD_BYTES} bytes together.`];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time.'];
    case 'HPE_INVALID_EOF_STATE':
      return [400, 'incomplete_body', 'The connection ended before the whole body arrived.'];
    default:
      return [400, 'bad_request', 'The request is not valid HTTP/1.1.'];
  }
}

/** Connections answered by `answerOnSocket`: Node may report more parse errors on them while they linger. */
const answeredSockets = new WeakSet<Duplex>();

/** Answers on a socket that has no response object (a request Node refused to parse, or an upgrade). */
function answerOnSocket(socket: Duplex, status: number, code: string, message: string): void {
  if (answeredSockets.has(socket)) return; // already answered, and closing
  if (!socket.writable) return void socket.destroy();
  answeredSockets.add(socket);
  const body = errorJson(code, message);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * After a refusal Node ends the connection and closes the socket at once; closing a socket with unread bytes
 * sends a reset that can destroy the answer before the client reads it. So: end it, go on reading (and
 * discarding) for a moment, then close.
 */
function lingerOnClose(socket: net.Socket): void {
  let closing = false;
  socket.destroySoon = () => {
    if (closing) return;
    closing = true;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  };
}

function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } } satisfies ErrorBody);
}
