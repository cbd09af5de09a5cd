/**
 * Feeds an SSH session through the real launch and ingest endpoints as the SSH proxy does
 * (docs/ingest-protocol.md §1–§4, §3a): launch with protocol `ssh`, the control socket's hello, cast pieces
 * PUT with their headers (seq 0 the header, then event lines), activity batches, and `end`.
 */
import WebSocket from 'ws';
import { type CastEvent, type CastHeader, checkCastEvents } from '../../protocol/asciicast.ts';
import { IngestHeader, PIECE_CONTENT_TYPE } from '../../protocol/ingest.ts';
import { PROTOCOL_VERSION } from '../../protocol/version.ts';
import { apiKey, baseUrl } from './helpers.ts';

export class SshFeed {
  readonly sessionId: string;
  readonly format: string;
  readonly #token: string;
  /** The server it feeds (the shared e2e server unless a test runs its own). */
  readonly #server: string;
  #control: WebSocket | null = null;
  #seq = 0;
  #batch = 0;
  /** Text frames the server sent on the control socket. */
  readonly messages: Array<Record<string, unknown>> = [];

  private constructor(reply: { sessionId: string; token: string; format: string }, server: string) {
    this.#server = server;
    this.sessionId = reply.sessionId;
    this.#token = reply.token;
    this.format = reply.format;
  }

  /** `POST /api/v1/launches` with protocol ssh. */
  static async launch(user: string, target: string, server = baseUrl): Promise<SshFeed> {
    const res = await fetch(`${server}/api/v1/launches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user, target, protocol: 'ssh' }),
    });
    if (res.status !== 201) throw new Error(`launch refused: ${res.status} ${await res.text()}`);
    return new SshFeed((await res.json()) as { sessionId: string; token: string; format: string }, server);
  }

  /** Opens the control socket and says hello; resolves with the welcome. */
  connect(): Promise<Record<string, unknown>> {
    const ws = new WebSocket(`${this.#server.replace('http', 'ws')}/ingest/v1/sessions/${this.sessionId}/control`, {
      headers: { authorization: `Bearer ${this.#token}` },
    });
    this.#control = ws;
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => reject(new Error(`control socket refused: ${res.statusCode}`)));
      // Before the welcome the connection failed; after it, the server went away (a test stopping it).
      ws.on('error', reject);
      ws.once('open', () =>
        ws.send(
          JSON.stringify({
            type: 'hello',
            protocol: PROTOCOL_VERSION,
            launcher: { name: 'ssh-feed (e2e)', version: '0', platform: 'linux' },
            reportsActivity: true,
          }),
        ),
      );
      ws.on('message', (data, isBinary) => {
        if (isBinary || String(data) === 'pong') return;
        const message = JSON.parse(String(data)) as Record<string, unknown>;
        this.messages.push(message);
        if (message.type === 'welcome') resolve(message);
        if (message.type === 'error') reject(new Error(`control error: ${String(data)}`));
      });
    });
  }

  /** Piece 0: the asciicast v2 header line. */
  header(header: CastHeader): Promise<void> {
    return this.#put(`${JSON.stringify(header)}\n`, 0, 0);
  }

  /** The next event piece: one line per event, with the start and end the server checks it against. */
  events(events: CastEvent[]): Promise<void> {
    const text = events.map((event) => `${JSON.stringify(event)}\n`).join('');
    const summary = checkCastEvents(text);
    if (typeof summary === 'string') throw new Error(`not a cast piece: ${summary}`);
    return this.#put(text, summary.startMs, summary.endMs);
  }

  /** Leaves out the next piece, as a proxy whose upload was lost would: the server sees a gap. */
  skipPiece(): void {
    this.#seq++;
  }

  /** Highest seq stored so far (null before the header). */
  get lastSeq(): number | null {
    return this.#seq === 0 ? null : this.#seq - 1;
  }

  /** One activity batch (ssh.input, ssh.command, file.transfer), as the proxy posts it. */
  async activity(events: unknown[]): Promise<void> {
    const res = await fetch(`${this.#server}/ingest/v1/sessions/${this.sessionId}/events/${this.#batch++}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    const ack = (await res.json()) as { stored: number; rejected: unknown[] };
    if (res.status !== 201 || ack.rejected.length > 0) throw new Error(`activity refused: ${JSON.stringify(ack)}`);
  }

  /** `end` with the last seq; resolves when the server closes the control socket (the recording is sealed). */
  end(): Promise<number> {
    const ws = this.#control;
    if (!ws) throw new Error('not connected');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'end', lastSeq: this.lastSeq }));
    return closed;
  }

  close(): void {
    this.#control?.close();
  }

  async #put(text: string, startMs: number, endMs: number): Promise<void> {
    const seq = this.#seq++;
    const body = new TextEncoder().encode(text);
    const res = await fetch(`${this.#server}/ingest/v1/sessions/${this.sessionId}/pieces/${seq}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${this.#token}`,
        'content-type': PIECE_CONTENT_TYPE.asciicast,
        'content-length': String(body.byteLength),
        [IngestHeader.keyframe]: seq === 0 ? '0' : '1',
        [IngestHeader.startMs]: String(startMs),
        [IngestHeader.endMs]: String(endMs),
      },
      body,
    });
    if (res.status !== 201) throw new Error(`piece ${seq} refused: ${res.status} ${await res.text()}`);
  }
}
