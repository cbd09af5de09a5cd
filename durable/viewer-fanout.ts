/**
 * Live viewers of one session: catch-up for a viewer that joins, then every new piece in sequence order.
 * Media is read from R2 only while someone watches, so an unwatched session moves no media through here.
 */
import { pieceKey } from '../protocol/ingest.ts';
import type { RecordingFormat } from '../protocol/session.ts';
import { CloseCode } from '../protocol/version.ts';
import type { ViewerServerMessage } from '../protocol/viewer.ts';
import { encodeMediaFrame, type Viewer } from '../protocol/viewer.ts';
import { planCatchUp, planLiveSends, trimHistory } from './live-cursor.ts';
import type { PieceRow, SessionStore } from './session-store.ts';
import { closeSocket, remember, sendOn, viewerAttachment } from './socket-state.ts';

export const VIEWER_TAG = 'viewer';

/** Pieces read once and sent to several viewers in one pump, bounded so a backlog cannot fill memory. */
interface PieceCache {
  pieces: Map<number, Uint8Array>;
  bytes: number;
}
const PUMP_CACHE_BYTES = 8 * 1024 * 1024;

export function sendJson(ws: WebSocket, message: ViewerServerMessage, sessionId: string): void {
  sendOn(ws, JSON.stringify(message), sessionId);
}

export class ViewerFanout {
  /** Sends are chained so a joining viewer's catch-up and live pieces never interleave. */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly store: SessionStore,
    /** The session's storage location's bucket (server/storage.ts), known once its record is. */
    private readonly bucket: () => R2Bucket,
    private readonly sessionId: () => string,
    private readonly format: () => RecordingFormat,
  ) {}

  /** Open viewer sockets (one closed by us lingers in the list until its peer answers, if it ever does). */
  viewerSockets(): WebSocket[] {
    return this.ctx.getWebSockets(VIEWER_TAG).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  viewers(): Viewer[] {
    return this.viewerSockets().map((ws) => viewerAttachment(ws).viewer);
  }

  /** Closes the sockets `tab` had before `ws`: the tab reconnected, and is one viewer, not two. */
  replaceTab(ws: WebSocket, tab: string | null): void {
    if (tab === null) return;
    for (const other of this.viewerSockets()) {
      if (other !== ws && viewerAttachment(other).tab === tab) {
        closeSocket(other, CloseCode.replaced, 'replaced by a newer connection from the same tab', this.sessionId());
      }
    }
  }

  /** Tells every viewer (but `except`, who just heard it in its hello) who is watching. */
  announceViewers(except?: WebSocket): void {
    const viewers = this.viewers();
    for (const ws of this.viewerSockets())
      if (ws !== except) sendJson(ws, { type: 'viewers', viewers }, this.sessionId());
  }

  broadcast(message: ViewerServerMessage): void {
    for (const ws of this.viewerSockets()) sendJson(ws, message, this.sessionId());
  }

  /**
   * Sends a joining viewer the init segment and the pieces since the newest keyframe — or, for a terminal
   * log, its history (a terminal's screen is the sum of everything printed), the newest few MiB of it.
   * Each piece is read, sent and let go: a join never holds more than one piece in memory.
   */
  join(ws: WebSocket): Promise<void> {
    return this.#enqueue(async () => {
      let plan: { send: number[]; sentUpTo: number };
      if (this.format() === 'asciicast') {
        const stored = this.store.allPieces();
        const sizes = new Map(stored.map((p) => [p.seq, p.size]));
        const whole = planCatchUp(stored, 'start');
        const { send, skipped } = trimHistory(whole.send, (seq) => sizes.get(seq) ?? 0);
        plan = { send, sentUpTo: whole.sentUpTo };
        if (skipped) {
          await this.#sendPiece(ws, send[0] as number, null);
          sendJson(ws, { type: 'gap', fromSeq: skipped[0], toSeq: skipped[1] }, this.sessionId());
          send.shift();
        }
      } else {
        plan = planCatchUp(this.store.catchUpPieces());
      }
      for (const seq of plan.send) await this.#sendPiece(ws, seq, null);
      this.#setSentUpTo(ws, plan.sentUpTo);
    }).then(() => this.pump());
  }

  /** Brings every viewer up to date with the stored pieces. */
  pump(): Promise<void> {
    return this.#enqueue(async () => {
      const sockets = this.viewerSockets();
      if (sockets.length === 0) return;
      const pieces: PieceCache = { pieces: new Map(), bytes: 0 };
      for (const ws of sockets) {
        const { sentUpTo, caughtUp } = viewerAttachment(ws);
        if (!caughtUp) continue;
        const plan = planLiveSends(sentUpTo, this.store.piecesAfter(sentUpTo));
        if (plan.gap) sendJson(ws, { type: 'gap', fromSeq: plan.gap[0], toSeq: plan.gap[1] }, this.sessionId());
        for (const seq of plan.send) await this.#sendPiece(ws, seq, pieces);
        this.#setSentUpTo(ws, plan.sentUpTo);
      }
    });
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task).catch((error: unknown) => {
      console.error('live fan-out failed', this.sessionId(), error);
    });
    this.#queue = run;
    return run;
  }

  /** Sends one piece; `cache` shares a read between the viewers of one pump (none for a lone join). */
  async #sendPiece(ws: WebSocket, seq: number, cache: PieceCache | null): Promise<void> {
    const row = this.store.piece(seq);
    if (!row) return;
    let media = cache?.pieces.get(seq);
    if (!media) {
      const object = await this.bucket().get(pieceKey(this.sessionId(), seq, this.format(), row.attempt));
      if (!object) throw new Error(`piece ${seq} is indexed but not in storage`);
      media = new Uint8Array(await object.arrayBuffer());
      if (cache && cache.bytes + media.byteLength <= PUMP_CACHE_BYTES) {
        cache.pieces.set(seq, media);
        cache.bytes += media.byteLength;
      }
    }
    sendOn(ws, encodeMediaFrame(frameHeader(row), media), this.sessionId());
  }

  #setSentUpTo(ws: WebSocket, sentUpTo: number): void {
    remember(ws, { ...viewerAttachment(ws), sentUpTo, caughtUp: true }, this.sessionId());
  }
}

function frameHeader(row: PieceRow) {
  return { seq: row.seq, keyframe: row.keyframe, startMs: row.startMs, endMs: row.endMs, storedAt: row.storedAt };
}
