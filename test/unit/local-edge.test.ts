/** The local edge (scripts/local-edge.ts) in front of a plain Node server standing in for wrangler dev. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { MAX_BATCH_BYTES } from '../../protocol/activity.ts';
import { edgeLimit, FRAME_LIMITS } from '../../protocol/frame-budget.ts';
import { startLocalEdge } from '../../scripts/local-edge.ts';
import { WorkerAddress } from '../../scripts/worker-address.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  complete: boolean;
}

const seen: Seen[] = [];
/** What the upstream socket that closes at its first message received. */
const closingSocket = { messages: [] as string[], closedBy: [] as number[] };
const viewerSocket = { messages: [] as string[] };
const launcherSocket = { messages: [] as string[] };
let upstream: http.Server;
let edge: http.Server;
let edgePort = 0;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const entry: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      bytes: 0,
      complete: false,
    };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => (entry.bytes += chunk.byteLength));
    req.on('end', () => {
      entry.complete = true;
      if (req.url?.endsWith('/plain-failure')) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '0' });
        return void res.end('Your worker restarted mid-request. Please try again.\n    at somewhere');
      }
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes', connection: 'keep-alive' });
      res.end(JSON.stringify({ got: entry.bytes }));
    });
  });
  new WebSocketServer({ server: upstream }).on('connection', (socket, req) => {
    if (req.url === '/api/v1/sessions/flood/live') {
      // As the Worker does with a viewer: closed at the 6th frame (protocol/frame-budget.ts).
      return socket.on('message', (data) => {
        viewerSocket.messages.push(String(data));
        if (viewerSocket.messages.length === 6) socket.close(4008, 'too many frames');
      });
    }
    if (req.url === '/ingest/v1/sessions/steady/control') {
      return socket.on('message', (data) => launcherSocket.messages.push(String(data)));
    }
    if (!req.url?.endsWith('/closes-at-first'))
      return socket.on('message', (data, binary) => socket.send(data, { binary }));
    socket.on('message', (data) => {
      closingSocket.messages.push(String(data));
      socket.close(4008, 'too many frames');
    });
    socket.on('close', (code) => closingSocket.closedBy.push(code));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  edge = await startLocalEdge({
    host: '127.0.0.1',
    port: 0,
    upstream: { host: '127.0.0.1', port },
    bodyIdleTimeoutMs: 300,
  });
  edgePort = (edge.address() as AddressInfo).port;
});

afterAll(async () => {
  edge.closeAllConnections();
  upstream.closeAllConnections();
  await Promise.all([new Promise((r) => edge.close(r)), new Promise((r) => upstream.close(r))]);
});

/** Writes `text` on a fresh connection (then `more`, if given), and resolves with all the edge sent back. */
function raw(
  text: string | Buffer,
  more?: (socket: net.Socket) => void,
  port = edgePort,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: Number(received.split(' ')[1]), text: received }));
    socket.write(text);
    more?.(socket);
  });
}

/**
 * A WebSocket opened by hand, so that it can send what a flooder does (and go on after it has seen the Close);
 * resolves once upgraded.
 */
async function rawUpgrade(path: string): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const socket = net.connect(edgePort, '127.0.0.1');
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  socket.on('error', () => undefined);
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  await vi.waitFor(() => expect(received.toString('latin1')).toContain('\r\n\r\n'));
  expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  return { socket, received: () => received };
}

/** A client's frame of `opcode` carrying `payload`, masked as a client's must be (RFC 6455 §5.3). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length =
    payload.byteLength < 126
      ? Buffer.from([0x80 | payload.byteLength])
      : payload.byteLength < 65_536
        ? Buffer.from([0x80 | 126, payload.byteLength >> 8, payload.byteLength & 0xff])
        : Buffer.concat([Buffer.from([0x80 | 127]), bigEndian64(payload.byteLength)]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = payload.map((byte, i) => byte ^ mask[i % 4]!);
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, masked]);
}

function bigEndian64(n: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(n));
  return bytes;
}

const errorCode = (text: string) =>
  (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code;
const piecePath = '/ingest/v1/sessions/s1/pieces/3';

describe('the local edge', () => {
  it('passes a request and its answer through, with the client address it saw', async () => {
    const res = await fetch(`http://127.0.0.1:${edgePort}${piecePath}?x=1`, {
      method: 'PUT',
      body: new Uint8Array(1000),
      headers: { 'cf-connecting-ip': '203.0.113.9', 'x-witness-keyframe': '1' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(await res.json()).toEqual({ got: 1000 });
    const request = seen.at(-1);
    expect(request).toMatchObject({ method: 'PUT', url: `${piecePath}?x=1`, bytes: 1000 });
    expect(request?.headers['x-witness-keyframe']).toBe('1');
    expect(request?.headers['cf-connecting-ip']).toBe('127.0.0.1');
  });

  it('refuses a declared length over the limit, and a piece without one, before the upstream sees them', async () => {
    const before = seen.length;
    const tooLarge = await raw(`PUT ${piecePath} HTTP/1.1\r\nhost: x\r\ncontent-length: 9999999999\r\n\r\n`);
    expect(tooLarge.status).toBe(413);
    expect(errorCode(tooLarge.text)).toBe('piece_too_large');
    const chunked = await raw(
      `PUT ${piecePath} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    );
    expect(chunked.status).toBe(411);
    expect(errorCode(chunked.text)).toBe('length_required');
    expect(seen.length).toBe(before);
  });

  it('refuses an oversized body that waits for 100 Continue without asking for it', async () => {
    const reply = await raw(
      `PUT ${piecePath} HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999\r\nexpect: 100-continue\r\n\r\n`,
    );
    expect(reply.text).not.toContain('100 Continue');
    expect(reply.status).toBe(413);
  });

  it('cuts a chunked body off at its limit, with a 413', async () => {
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const reply = await raw(
      'POST /ingest/v1/sessions/s1/events/0 HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n',
      (socket) => {
        for (let sent = 0; sent <= MAX_BATCH_BYTES; sent += chunk.byteLength) {
          socket.write(`${chunk.byteLength.toString(16)}\r\n`);
          socket.write(chunk);
          socket.write('\r\n');
        }
      },
    );
    expect(reply.status).toBe(413);
    expect(errorCode(reply.text)).toBe('batch_too_large');
    expect(seen.at(-1)?.complete).toBe(false);
  });

  it('answers a body that stops arriving with a 408, and one cut short with a 400', async () => {
    const head = `PUT ${piecePath} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n`;
    const stalled = await raw(head, (socket) => socket.write(Buffer.alloc(10)));
    expect(stalled.status).toBe(408);
    expect(errorCode(stalled.text)).toBe('body_timeout');
    const short = await raw(head, (socket) => socket.end(Buffer.alloc(10)));
    expect(short.status).toBe(400);
    expect(errorCode(short.text)).toBe('incomplete_body');
  });

  it('answers what it cannot parse, or what is too long, in JSON', async () => {
    const url = await raw(`GET /api/v1/sessions?q=${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expect(url.status).toBe(414);
    expect(errorCode(url.text)).toBe('uri_too_long');
    const headers = await raw(`GET /api/health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(200_000)}\r\n\r\n`);
    expect(headers.status).toBe(431);
    expect(errorCode(headers.text)).toBe('headers_too_large');
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(errorCode(garbage.text)).toBe('bad_request');
  });

  it("answers wrangler's own plain-text failures on the product's paths in JSON, and nothing else", async () => {
    const api = await fetch(`http://127.0.0.1:${edgePort}/api/v1/plain-failure`, { method: 'POST', body: '{}' });
    expect(api.status).toBe(503);
    expect(api.headers.get('retry-after')).toBe('0');
    expect(await api.json()).toEqual({
      error: { code: 'server_error', message: 'Your worker restarted mid-request. Please try again.' },
    });
    const page = await fetch(`http://127.0.0.1:${edgePort}/sessions/plain-failure`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('Your worker restarted');
  });

  it('passes WebSockets through', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${edgePort}/api/v1/sessions/s1/live`);
    const echoed = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('ping through the edge');
    expect(await echoed).toBe('ping through the edge');
    socket.close();
  });

  it("drops what a client sends after the server's Close, but its own Close", async () => {
    const { socket, received } = await rawUpgrade('/api/v1/sessions/s1/closes-at-first');
    socket.write(maskedFrame(0x1, Buffer.from('first')));
    // The server's Close: 0x88, then its length, then the code 4008.
    await vi.waitFor(() => expect(received().includes(Buffer.from([0x88, 17, 0x0f, 0xa8]))).toBe(true));
    const late = Array.from({ length: 200 }, (_, i) => maskedFrame(i % 2 ? 0x2 : 0x1, Buffer.alloc(i * 7, 'x')));
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.write(Buffer.concat([...late, maskedFrame(0x8, Buffer.from([0x03, 0xe8]))]));
    // The client's Close ends its connection, as the server would; the server saw nothing after its own Close.
    await ended;
    await vi.waitFor(() => expect(closingSocket.closedBy).toHaveLength(1));
    expect(closingSocket.messages).toEqual(['first']);
    socket.destroy();
  });

  it("holds a flooding viewer's frames back, so the server sees a bounded number before it closes", async () => {
    const { socket, received } = await rawUpgrade('/api/v1/sessions/flood/live');
    socket.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => maskedFrame(0x1, Buffer.from(`f${i}`)))));
    await vi.waitFor(() => expect(received().includes(Buffer.from([0x88, 17, 0x0f, 0xa8]))).toBe(true));
    // The edge let four times the Worker's burst through at most; what the server read came in order.
    expect(viewerSocket.messages.length).toBeGreaterThanOrEqual(6);
    expect(viewerSocket.messages.length).toBeLessThanOrEqual(edgeLimit(FRAME_LIMITS.viewer).burst);
    expect(viewerSocket.messages).toEqual(viewerSocket.messages.map((_, i) => `f${i}`));
    socket.destroy();
  });

  it('passes every frame of a launcher past its burst as the budget refills, none dropped', async () => {
    const { socket } = await rawUpgrade('/ingest/v1/sessions/steady/control');
    const count = edgeLimit(FRAME_LIMITS.launcher).burst + 2;
    socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => maskedFrame(0x1, Buffer.from(`a${i}`)))));
    await vi.waitFor(() => expect(launcherSocket.messages).toHaveLength(count), { timeout: 5_000 });
    expect(launcherSocket.messages).toEqual(launcherSocket.messages.map((_, i) => `a${i}`));
    socket.destroy();
  });

  it('answers with a JSON 502 while nothing listens behind it', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const orphan = await startLocalEdge({ host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port } });
    const res = await fetch(`http://127.0.0.1:${(orphan.address() as AddressInfo).port}/api/health`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
    orphan.closeAllConnections();
    await new Promise((resolve) => orphan.close(resolve));
  });
});

describe('the local edge while wrangler reloads the Worker (a new workerd on a new port)', () => {
  /** A stand-in for one workerd: answers with its name, echoes on WebSockets; `holding()` holds the next `/api/held`. */
  async function fakeWorker(name: string) {
    const held: Array<() => void> = [];
    const server = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/api/held' && held.length > 0) {
        for (const seen of held.splice(0)) seen();
        return;
      }
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ from: name }));
      });
    });
    new WebSocketServer({ server }).on('connection', (socket) =>
      socket.on('message', (d) => socket.send(`${name}:${d}`)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    /** Resolves once the next `/api/held` request has reached this worker. */
    const holding = () => new Promise<void>((resolve) => held.push(resolve));
    return { server, address, holding };
  }

  let old: Awaited<ReturnType<typeof fakeWorker>>;
  let renewed: Awaited<ReturnType<typeof fakeWorker>>;
  const worker = new WorkerAddress();
  let reloadingEdge: http.Server;
  let url = '';

  beforeAll(async () => {
    [old, renewed] = await Promise.all([fakeWorker('old'), fakeWorker('new')]);
    reloadingEdge = await startLocalEdge({ host: '127.0.0.1', port: 0, upstream: worker, reloadWaitMs: 400 });
    url = `http://127.0.0.1:${(reloadingEdge.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const server of [reloadingEdge, old.server, renewed.server]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
  const UPGRADE =
    'GET /api/v1/sessions/s1/live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

  it('holds requests and WebSocket upgrades during a reload, then sends them to the new address', async () => {
    worker.set(old.address);
    expect(await (await fetch(`${url}/api/health`)).json()).toEqual({ from: 'old' });
    worker.reloading();
    const held = fetch(`${url}/api/health`);
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/v1/sessions/s1/live`);
    const echoed = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
    await vi.waitFor(() => expect(worker.waiting).toBe(2)); // the request and the upgrade, held at the edge
    worker.set(renewed.address);
    expect(await (await held).json()).toEqual({ from: 'new' });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('hello');
    expect(await echoed).toBe('new:hello');
    socket.close();
  });

  it('answers a JSON 503 when no Worker comes in time; after a failed reload, goes back to the one there was', async () => {
    worker.set(renewed.address);
    worker.reloading();
    const pending = fetch(`${url}/api/health`);
    // Held while a Worker may come, then given up on: no address came within the edge's wait.
    await vi.waitFor(() => expect(worker.waiting).toBe(1));
    const waited = await pending;
    expect(worker.waiting).toBe(0);
    expect(waited.status).toBe(503);
    expect(waited.headers.get('retry-after')).toBe('1');
    expect(await errorOf(waited)).toBe('server_reloading');
    const upgrade = await raw(UPGRADE, undefined, (reloadingEdge.address() as AddressInfo).port);
    expect(upgrade.status).toBe(503);
    expect(upgrade.text).toContain('"server_reloading"');
    // wrangler may fail before it has replaced the Worker: then that one still answers.
    worker.failed('Error reloading local server');
    expect(worker.current).toEqual(renewed.address); // so nothing waits: the request goes there at once
    const res = await fetch(`${url}/api/health`, { method: 'PUT', body: 'x' });
    expect(await res.json()).toEqual({ from: 'new' });
  });

  it('answers a JSON 503 at once when the first start failed', async () => {
    const none = new WorkerAddress();
    // A wait longer than the test may take: the answer can only come in time if nothing waits for a Worker.
    const failedEdge = await startLocalEdge({ host: '127.0.0.1', port: 0, upstream: none, reloadWaitMs: 600_000 });
    const port = (failedEdge.address() as AddressInfo).port;
    none.failed('Error reloading local server');
    const res = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(none.waiting).toBe(0);
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toBe('server_reloading');
    expect((await raw(UPGRADE, undefined, port)).status).toBe(503);
    failedEdge.closeAllConnections();
    await new Promise((resolve) => failedEdge.close(resolve));
  });

  it('sends a GET that a reload cut short to the new Worker, and answers anything else with a JSON 503', async () => {
    worker.set(old.address);
    for (const [method, body, status, answer] of [
      ['GET', undefined, 200, { from: 'new' }],
      ['PUT', 'a piece', 503, null],
    ] as const) {
      const reached = old.holding();
      const sent = fetch(`${url}/api/held`, { method, body });
      await reached;
      // As miniflare does at a reload: the old workerd goes away with the request, the new one comes later.
      worker.reloading();
      old.server.closeAllConnections();
      // The new workerd comes a moment later.
      const renewedUp = new Promise<void>((resolve) =>
        setTimeout(() => {
          worker.set(renewed.address);
          resolve();
        }, 50),
      );
      const res = await sent;
      expect(res.status, method).toBe(status);
      if (answer) expect(await res.json()).toEqual(answer);
      else expect(await errorOf(res)).toBe('server_reloading');
      await renewedUp;
      worker.set(old.address);
    }
  });
});
