/**
 * The live driver: the session's viewer socket (docs/ingest-protocol.md §5) into a MediaSource. JSON text
 * frames carry state (hello, viewers, gap, ended); binary frames carry pieces, the init segment first. The
 * video is kept near the live edge; an abnormal close reconnects with backoff and a fresh MediaSource.
 */
import type { EndReason } from '../../../protocol/session.ts';
import { HEARTBEAT_PONG } from '../../../protocol/version.ts';
import type { Driver, DriverContext, LiveStatus } from './core.ts';
import { keepLiveSocket, type LiveSocketHandlers } from './live-socket.ts';
import { AppendQueue, webmMimeType } from './source-buffer.ts';
import { decodeMediaFrame, parseViewerMessage } from './viewer-messages.ts';

/** Where to play behind the newest media: close to it, but not so close that every piece makes it stall. */
const TARGET_LAG_S = 1.5;
/** Further behind than this (a throttled tab, a stall), the player jumps forward. */
const MAX_LAG_S = 4;
/**
 * A joining viewer gets the pieces since the newest keyframe in a burst: the playhead is placed once no piece
 * has come for this long, so it starts at the live edge rather than up to a keyframe interval behind it.
 */
const BURST_QUIET_MS = 300;

export interface LiveOptions {
  /** Asked after a close that was not `ended`: is the session over? (A socket refused with 409 says nothing.) */
  sessionEnded(): Promise<EndReason | null>;
}

export function initialLiveStatus(): LiveStatus {
  return {
    connection: 'connecting',
    attempt: 0,
    retryAt: null,
    dropCode: null,
    reconnectedAt: null,
    viewers: [],
    endReason: null,
    newestStoredAt: null,
    edgeMs: null,
    skippedPieces: 0,
    error: null,
  };
}

/** How a text frame from the live socket changes the status both live drivers publish (null: no change). */
export function liveStatusChange(text: string, status: LiveStatus): Partial<LiveStatus> | null {
  if (text === HEARTBEAT_PONG) return null;
  const message = parseViewerMessage(text);
  if (!message) return null;
  switch (message.type) {
    case 'hello': {
      // A hello after a drop: the server is back, and sends the init segment and catch-up again.
      const reconnectedAt = status.connection === 'reconnecting' ? Date.now() : status.reconnectedAt;
      return {
        connection: 'live',
        attempt: 0,
        retryAt: null,
        dropCode: null,
        reconnectedAt,
        viewers: message.viewers,
        error: null,
      };
    }
    case 'viewers':
      return { viewers: message.viewers };
    case 'gap':
      return { skippedPieces: status.skippedPieces + message.toSeq - message.fromSeq + 1 };
    case 'ended':
      return { endReason: message.reason };
    case 'error':
      return { error: message.message };
  }
}

/**
 * The status change for a drop that will be retried: both live drivers publish it. The first drop's code is
 * kept while the retries fail: after a 1012 the server is down for a while, and it is still "restarting".
 */
export function reconnectingStatus(
  status: LiveStatus,
  attempt: number,
  retryAt: number,
  code: number,
): Partial<LiveStatus> {
  const dropCode = status.connection === 'reconnecting' ? status.dropCode : code;
  return { connection: 'reconnecting', attempt, retryAt, dropCode };
}

export function liveDriver(sessionId: string, options: LiveOptions): Driver {
  let context: DriverContext | null = null;
  let socket: { stop(): void } | null = null;
  let queue: AppendQueue | null = null;
  let mediaSource: MediaSource | null = null;
  let objectUrl: string | null = null;
  let edgeTimer: ReturnType<typeof setInterval> | undefined;
  /** The playhead has been placed at the edge since the last (re)connect. */
  let positioned = false;
  let positionTimer: ReturnType<typeof setTimeout> | undefined;
  let status: LiveStatus = initialLiveStatus();

  const publish = (change: Partial<LiveStatus>) => {
    status = { ...status, ...change };
    context?.emit('live', status);
  };

  const video = () => context?.video as HTMLVideoElement;

  /** Where to play: TARGET_LAG_S behind the newest media, or the start of the newest run of it. */
  const edgeTarget = (v: HTMLVideoElement): number | null => {
    const buffered = v.buffered;
    if (buffered.length === 0) return null;
    const last = buffered.length - 1;
    return Math.max(buffered.start(last), buffered.end(last) - TARGET_LAG_S);
  };

  /** After an append: places the playhead once the joining burst is over. */
  const appended = () => {
    if (positioned) return keepNearEdge();
    clearTimeout(positionTimer);
    positionTimer = setTimeout(() => {
      const v = context?.video;
      const target = v && edgeTarget(v);
      if (!v || target == null) return;
      positioned = true;
      v.currentTime = target;
      void v.play().catch(() => {});
    }, BURST_QUIET_MS);
  };

  /** While playing: jumps to the edge when the playhead is in a hole (a gap) or has fallen too far behind. */
  const keepNearEdge = () => {
    const v = context?.video;
    if (!v || !positioned || v.paused || v.seeking) return;
    const buffered = v.buffered;
    const target = edgeTarget(v);
    if (target === null) return;
    const t = v.currentTime;
    const end = buffered.end(buffered.length - 1);
    let inside = false;
    for (let i = 0; i < buffered.length; i++) {
      if (buffered.start(i) <= t + 0.05 && t < buffered.end(i) - 0.1) inside = true;
    }
    if ((!inside && t < target) || end - t > MAX_LAG_S) v.currentTime = target;
  };

  const finish = (reason: EndReason | null) => {
    publish({ connection: 'ended', endReason: reason ?? status.endReason, retryAt: null });
    // Play out what arrived, then end the stream so the video reaches `ended`.
    const source = mediaSource;
    queue?.whenDrained(() => {
      if (source?.readyState === 'open') source.endOfStream();
    });
  };

  const onMedia = (frame: Uint8Array) => {
    const { header, media } = decodeMediaFrame(frame);
    publish({
      newestStoredAt: header.seq === 0 ? status.newestStoredAt : header.storedAt,
      edgeMs: header.seq === 0 ? status.edgeMs : header.endMs,
    });
    if (header.seq === 0) {
      const source = mediaSource;
      if (source?.readyState !== 'open' || queue) return;
      const type = webmMimeType(media);
      if (!type) {
        publish({ error: 'This browser cannot play VP9 or VP8 WebM through MediaSource.' });
        return;
      }
      const buffer = source.addSourceBuffer(type);
      queue = new AppendQueue(buffer, video(), {
        appended,
        error: (error) => publish({ error: `The live picture stopped: ${error.message}` }),
      });
    }
    queue?.append(media);
  };

  const onText = (text: string) => {
    const change = liveStatusChange(text, status);
    if (change) publish(change);
  };

  /** Pieces that arrive before the current MediaSource opens wait here. */
  let early: Uint8Array[] | null = null;

  const handlers: LiveSocketHandlers = {
    // Every (re)connect starts a fresh MediaSource: the server begins again with the init segment.
    connecting() {
      const v = video();
      queue?.close();
      queue = null;
      positioned = false;
      clearTimeout(positionTimer);
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      const source = new MediaSource();
      mediaSource = source;
      objectUrl = URL.createObjectURL(source);
      v.src = objectUrl;
      const waiting: Uint8Array[] = [];
      early = waiting;
      source.addEventListener(
        'sourceopen',
        () => {
          if (early === waiting) early = null;
          for (const frame of waiting.splice(0)) onMedia(frame);
        },
        { once: true },
      );
    },
    text: onText,
    media: (frame) => (early ? early.push(frame) : onMedia(frame)),
    malformed: (error) => publish({ error: `A malformed message from the server was ignored: ${error.message}` }),
    reconnecting: (attempt, retryAt, code) => publish(reconnectingStatus(status, attempt, retryAt, code)),
    ended: finish,
    sessionEnded: options.sessionEnded,
    over: () => status.endReason !== null,
  };

  return {
    attach(ctx) {
      context = ctx;
      ctx.video.muted = true;
      edgeTimer = setInterval(keepNearEdge, 1000);
      ctx.video.addEventListener('waiting', keepNearEdge);
      publish({});
      socket = keepLiveSocket(sessionId, handlers);
    },
    beforePlay() {
      const v = video();
      if (v.buffered.length > 0) {
        const end = v.buffered.end(v.buffered.length - 1);
        if (end - v.currentTime > MAX_LAG_S) v.currentTime = Math.max(0, end - TARGET_LAG_S);
      }
    },
    detach() {
      clearTimeout(positionTimer);
      clearInterval(edgeTimer);
      context?.video.removeEventListener('waiting', keepNearEdge);
      queue?.close();
      socket?.stop();
      socket = null;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      context = null;
    },
  };
}
