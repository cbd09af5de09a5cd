/**
 * The baseline the load benchmarks compare Witness with: the least a Node server can do for the same job.
 * A PUT is read whole, written to a file, answered 201, and relayed over `ws` to the session's live viewers
 * in the same frame format. It speaks Witness's paths (launch, control socket, pieces, live, session) but
 * checks nothing: no auth, no validation, no hashing, no index.
 *
 *   node bench/lib/bare-server.ts --port PORT --dir DIR
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { IngestHeader } from '../../protocol/ingest.ts';
import { encodeMediaFrame } from '../../protocol/viewer.ts';

const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' } } });
const dir = values.dir ?? process.exit(2);

interface BareSession {
  viewers: Set<WebSocket>;
  seqs: Set<number>;
}
const sessions = new Map<string, BareSession>();
function sessionFor(id: string): BareSession {
  const known = sessions.get(id);
  if (known) return known;
  const session: BareSession = { viewers: new Set(), seqs: new Set() };
  sessions.set(id, session);
  return session;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const piece = url.match(/^\/ingest\/v1\/sessions\/([^/]+)\/pieces\/(\d+)$/);
  if (req.method === 'PUT' && piece) {
    const id = piece[1] as string;
    const seq = Number(piece[2]);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      await writeFile(path.join(dir, `${id}-${seq}.webm`), body);
      const session = sessionFor(id);
      session.seqs.add(seq);
      json(res, 201, { seq, size: body.byteLength, sha256: '', duplicate: false });
      const frame = encodeMediaFrame(
        {
          seq,
          keyframe: req.headers[IngestHeader.keyframe] === '1',
          startMs: Number(req.headers[IngestHeader.startMs] ?? 0),
          endMs: Number(req.headers[IngestHeader.endMs] ?? 0),
          storedAt: Date.now(),
        },
        body,
      );
      for (const viewer of session.viewers) if (viewer.readyState === WebSocket.OPEN) viewer.send(frame);
    });
    return;
  }
  if (req.method === 'POST' && url === '/api/v1/launches') {
    req.resume();
    req.on('end', () => {
      const sessionId = randomUUID();
      sessionFor(sessionId);
      json(res, 201, { sessionId, token: 'bare', expiresAt: new Date(Date.now() + 900_000).toISOString() });
    });
    return;
  }
  const record = url.match(/^\/api\/v1\/sessions\/([^/]+)$/);
  if (req.method === 'GET' && record) {
    const seqs = sessionFor(record[1] as string).seqs;
    const last = Math.max(-1, ...seqs);
    const missing: number[] = [];
    for (let seq = 0; seq <= last; seq++) if (!seqs.has(seq)) missing.push(seq);
    return json(res, 200, { recording: { pieces: seqs.size, missingPieces: missing } });
  }
  if (req.method === 'GET' && url === '/api/health') return json(res, 200, { ok: true });
  json(res, 404, { error: { code: 'not_found', message: url } });
});

const sockets = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const url = req.url ?? '/';
  const control = url.match(/^\/ingest\/v1\/sessions\/([^/]+)\/control$/);
  const live = url.match(/^\/api\/v1\/sessions\/([^/]+)\/live$/);
  if (!control && !live) return socket.destroy();
  sockets.handleUpgrade(req, socket, head, (ws) => {
    if (live) {
      const session = sessionFor(live[1] as string);
      session.viewers.add(ws);
      ws.on('close', () => session.viewers.delete(ws));
      ws.send(JSON.stringify({ type: 'hello', protocol: 1, sessionId: live[1], status: 'active', viewers: [] }));
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = String(data);
      if (text === 'ping') return ws.send('pong');
      const message = JSON.parse(text) as { type?: string };
      if (message.type === 'hello') {
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, sessionId: control?.[1], storedSeqs: [] }));
      }
    });
  });
});

server.listen(Number(values.port), '127.0.0.1');
