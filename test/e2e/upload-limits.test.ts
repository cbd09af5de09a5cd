/**
 * What a client can push at the server `npm start` runs: oversized, endless, short and lying uploads are
 * answered with the product's JSON error, without the server taking the body, and its memory stays flat
 * (docs/ingest-protocol.md, "Request limits"). Raw sockets, so the test controls every byte and the timing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, baseUrl } from './helpers.ts';

const MiB = 1024 * 1024;
const { hostname, port } = new URL(baseUrl);

interface Reply {
  status: number;
  headers: Record<string, string>;
  text: string;
}

interface RawRequest {
  socket: net.Socket;
  /** The first whole response on the connection. */
  reply: Promise<Reply>;
  /** The server ended or reset the connection. */
  closed: Promise<void>;
  /** Body bytes the client's kernel took so far. */
  sent: () => number;
  /** Sends `bytes` of body as fast as the connection takes them, until done or the server closes. */
  push: (bytes: number, framing: 'plain' | 'chunked') => Promise<void>;
}

function openRequest(head: string): RawRequest {
  const socket = net.connect(Number(port), hostname);
  let received = Buffer.alloc(0);
  let sent = 0;
  let gone = false;
  const reply = new Promise<Reply>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      const length = Number(headers['content-length'] ?? Number.NaN);
      if (received.byteLength - end - 4 < length) return;
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers,
        text: received.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
    });
    socket.once('close', () => reject(new Error(`closed without a whole reply: ${received.toString('latin1')}`)));
  });
  reply.catch(() => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('close', () => (gone = true));
  socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server has closed: expected here
  socket.write(head);
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const push = async (bytes: number, framing: 'plain' | 'chunked') => {
    while (!gone && sent < bytes) {
      const size = Math.min(chunk.byteLength, bytes - sent);
      const body = chunk.subarray(0, size);
      const framed =
        framing === 'chunked' ? [Buffer.from(`${size.toString(16)}\r\n`), body, Buffer.from('\r\n')] : [body];
      let flushed = true;
      for (const part of framed) flushed = socket.write(part) && flushed;
      sent += size;
      if (!flushed)
        await new Promise<void>((resolve) => (gone ? resolve() : socket.once('drain', resolve).once('close', resolve)));
    }
  };
  return { socket, reply, closed, sent: () => sent, push };
}

function head(method: string, path: string, headers: Record<string, string>): string {
  const lines = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

function errorOf(reply: Reply): { code: string; message: string } {
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(reply.text) as { error: { code: string; message: string } };
  expect(body.error.message).toEqual(expect.any(String));
  return body.error;
}

/** Resident memory (MiB) of the processes serving `baseUrl`: the `npm start` script and its workerd runtimes. */
function serverMemory(): { workerd: number; edge: number } {
  const processes = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return [{ pid, ppid: fields[1], comm, cmdline, rss: (Number(fields[21]) * 4096) / MiB }];
      } catch {
        return []; // gone meanwhile
      }
    });
  const root = processes.find((p) => p.cmdline.includes('scripts/start.ts') && p.cmdline.includes(`--port\0${port}\0`));
  if (!root) throw new Error(`no npm start process serves port ${port}`);
  const tree = new Set([root.pid]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const p of processes) if (!tree.has(p.pid) && p.ppid && tree.has(p.ppid)) grown = Boolean(tree.add(p.pid));
  }
  const workerd = processes.filter((p) => tree.has(p.pid) && p.comm === 'workerd');
  expect(workerd.length).toBeGreaterThan(0);
  return { workerd: workerd.reduce((sum, p) => sum + p.rss, 0), edge: root.rss };
}

describe('the local server bounds what a client can push', () => {
  let sessionId = '';
  let token = '';
  const piece = (seq: number, framing: Record<string, string>) =>
    head('PUT', `/ingest/v1/sessions/${sessionId}/pieces/${seq}`, {
      authorization: `Bearer ${token}`,
      'content-type': 'video/webm',
      'x-witness-keyframe': '1',
      'x-witness-start-ms': '0',
      'x-witness-end-ms': '1000',
      ...framing,
    });
  const batch = (n: number, framing: Record<string, string>) =>
    head('POST', `/ingest/v1/sessions/${sessionId}/events/${n}`, {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...framing,
    });

  beforeAll(async () => {
    const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user: 'limits', target: 'db-01' }) });
    expect(res.status).toBe(201);
    ({ sessionId, token } = (await res.json()) as { sessionId: string; token: string });
  });

  it('answers a declared length over the limit with 413 before the body is sent, and closes', async () => {
    const upload = openRequest(piece(1, { 'content-length': '9999999999' }));
    // A few KiB of the ~10 GB, then the client waits: the answer must not need the rest.
    upload.socket.write(Buffer.alloc(4096));
    const reply = await upload.reply;
    expect(reply.status).toBe(413);
    expect(errorOf(reply).code).toBe('piece_too_large');
    await upload.closed;
  });

  it('answers a piece without a length (chunked, never ending) with 411', async () => {
    const upload = openRequest(piece(2, { 'transfer-encoding': 'chunked' }));
    upload.socket.write(`1000\r\n${'a'.repeat(0x1000)}\r\n`);
    const reply = await upload.reply;
    expect(reply.status).toBe(411);
    expect(errorOf(reply).code).toBe('length_required');
    await upload.closed;
  });

  // A WebM Cluster of unknown size: what a piece's first bytes must be.
  const cluster = Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  it.each([
    ['a piece', () => piece(3, { 'content-length': '50000' }), cluster],
    ['an event batch', () => batch(0, { 'content-length': '50000' }), Buffer.from('{"events": [')],
    [
      'an API body',
      () => head('POST', '/api/v1/launches', { authorization: 'Bearer x', 'content-length': '50000' }),
      Buffer.from('{"user": "'),
    ],
  ])('answers %s shorter than its Content-Length, then half-closed, with a JSON 400', async (_name, request, start) => {
    const upload = openRequest(request());
    upload.socket.write(Buffer.concat([start, Buffer.alloc(20_000, 0x61)]));
    upload.socket.end(); // half-close: the client can still read the answer
    const reply = await upload.reply;
    expect(reply.status).toBe(400);
    expect(errorOf(reply).code).toBe('incomplete_body');
  });

  it.each([
    ['the API', '/api/v1/sessions?q='],
    ['ingest', '/ingest/v1/sessions/x/pieces/1?'],
  ])('answers a 100 KB URL to %s with a JSON 414', async (_name, path) => {
    const res = await fetch(`${baseUrl}${path}${'a'.repeat(100_000)}`, { headers: { authorization: 'Bearer x' } });
    expect(res.status).toBe(414);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('uri_too_long');
  });

  it('refuses 200 MiB pushed as fast as the connection goes, without taking it, and its memory stays flat', async () => {
    const before = serverMemory();
    const pushes: Array<[string, () => string, 'plain' | 'chunked', number | null, string | null]> = [
      ['a chunked piece', () => piece(4, { 'transfer-encoding': 'chunked' }), 'chunked', 411, 'length_required'],
      ['a chunked event batch', () => batch(1, { 'transfer-encoding': 'chunked' }), 'chunked', 413, 'batch_too_large'],
      [
        'a chunked API body',
        () => head('POST', '/api/v1/launches', { authorization: 'Bearer x', 'transfer-encoding': 'chunked' }),
        'chunked',
        413,
        'body_too_large',
      ],
      // 1 KB as the piece, then 200 MiB the request never declared: the piece gets its answer, the rest is refused.
      ['a piece with a lying Content-Length', () => piece(5, { 'content-length': '1024' }), 'plain', null, null],
    ];
    for (const [name, request, framing, status, code] of pushes) {
      const upload = openRequest(request());
      await upload.push(200 * MiB, framing);
      const reply = await upload.reply;
      await upload.closed;
      if (status !== null) expect(reply.status, name).toBe(status);
      const error = reply.status >= 400 ? errorOf(reply) : null;
      if (code !== null) expect(error?.code, name).toBe(code);
      // The server closed the connection long before the client was done.
      expect(upload.sent(), name).toBeLessThan(100 * MiB);
    }
    const after = serverMemory();
    expect(after.workerd - before.workerd).toBeLessThan(32);
    expect(after.edge - before.edge).toBeLessThan(32);
  });
});
