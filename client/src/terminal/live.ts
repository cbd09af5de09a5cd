/**
 * The live terminal driver: the session's viewer socket (docs/ingest-protocol.md §5) into a terminal screen.
 * For an SSH session the server sends the cast header (seq 0) and then every stored piece from seq 1 on, so a
 * joining viewer rebuilds the whole screen; each media frame's bytes are cast lines. The status it publishes
 * (`live`) is the video live driver's, so the page shows the same connection, viewers and delay.
 */
import type { EndReason } from '../../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PONG } from '../../../protocol/version.ts';
import { reconnectDelay } from '../player/backoff.ts';
import type { Driver, DriverContext } from '../player/core.ts';
import type { LiveOptions, LiveStatus } from '../player/live.ts';
import { liveSocketUrl } from '../player/live-socket.ts';
import { decodeMediaFrame, parseViewerMessage } from '../player/viewer-messages.ts';
import { parseEventPiece, parseHeaderPiece } from './cast.ts';
import type { TerminalScreen } from './screen.ts';

/** A joining viewer gets the history in a burst: the playhead goes to the edge once it has been quiet this long. */
const BURST_QUIET_MS = 300;
/** Further behind the newest piece than this while playing, the screen jumps to it. */
const MAX_LAG_MS = 4000;
/** Keeps proxies from closing an idle socket; answered by the Durable Object's auto-response. */
const HEARTBEAT_MS = 30_000;

export function terminalLiveDriver(sessionId: string, options: LiveOptions): Driver<TerminalScreen> {
  let context: DriverContext<TerminalScreen> | null = null;
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let edgeTimer: ReturnType<typeof setInterval> | undefined;
  let positionTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let positioned = false;
  /** Pieces already on the screen: a reconnect sends the history again. */
  const received = new Set<number>();
  let status: LiveStatus = {
    connection: 'connecting',
    attempt: 0,
    retryAt: null,
    viewers: [],
    endReason: null,
    newestStoredAt: null,
    edgeMs: null,
    skippedPieces: 0,
    error: null,
  };

  const publish = (change: Partial<LiveStatus>) => {
    status = { ...status, ...change };
    context?.emit('live', status);
  };

  const toEdge = () => {
    const screen = context?.video;
    if (screen) screen.currentTime = screen.edgeMs / 1000;
  };

  /** After a piece: the playhead goes to the edge once the joining burst is over, and stays near it. */
  const appended = () => {
    const screen = context?.video;
    if (!screen) return;
    if (positioned) return keepNearEdge();
    clearTimeout(positionTimer);
    positionTimer = setTimeout(() => {
      positioned = true;
      toEdge();
      void context?.video.play();
    }, BURST_QUIET_MS);
  };

  const keepNearEdge = () => {
    const screen = context?.video;
    if (screen && positioned && !screen.paused && screen.edgeMs - screen.currentTime * 1000 > MAX_LAG_MS) toEdge();
  };

  const finish = (reason: EndReason | null) => {
    clearTimeout(retryTimer);
    clearInterval(heartbeat);
    publish({ connection: 'ended', endReason: reason ?? status.endReason, retryAt: null });
    context?.video.endLive();
  };

  const onMedia = (frame: Uint8Array) => {
    const { header, media } = decodeMediaFrame(frame);
    const screen = context?.video;
    if (!screen) return;
    if (header.seq === 0) return screen.setHeader(parseHeaderPiece(media));
    if (received.has(header.seq)) return;
    received.add(header.seq);
    screen.append(parseEventPiece(media), header.endMs);
    publish({ newestStoredAt: header.storedAt, edgeMs: screen.edgeMs });
    appended();
  };

  const onText = (text: string) => {
    if (text === HEARTBEAT_PONG) return;
    const message = parseViewerMessage(text);
    if (!message) return;
    switch (message.type) {
      case 'hello':
        publish({ connection: 'live', attempt: 0, retryAt: null, viewers: message.viewers, error: null });
        return;
      case 'viewers':
        publish({ viewers: message.viewers });
        return;
      case 'gap':
        publish({ skippedPieces: status.skippedPieces + message.toSeq - message.fromSeq + 1 });
        return;
      case 'ended':
        publish({ endReason: message.reason });
        return;
      case 'error':
        publish({ error: message.message });
        return;
    }
  };

  const connect = () => {
    positioned = false;
    clearTimeout(positionTimer);
    const ws = new WebSocket(liveSocketUrl(sessionId));
    ws.binaryType = 'arraybuffer';
    socket = ws;
    ws.addEventListener('message', (event: MessageEvent<ArrayBuffer | string>) => {
      if (socket !== ws) return;
      try {
        if (typeof event.data === 'string') onText(event.data);
        else onMedia(new Uint8Array(event.data));
      } catch (error) {
        publish({ error: `A malformed message from the server was ignored: ${(error as Error).message}` });
      }
    });
    ws.addEventListener('open', () => {
      clearInterval(heartbeat);
      heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('ping'), HEARTBEAT_MS);
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws || stopped) return;
      clearInterval(heartbeat);
      if (event.code === CloseCode.sessionEnded || status.endReason) return finish(null);
      const attempt = status.attempt + 1;
      const delay = reconnectDelay(attempt);
      publish({ connection: 'reconnecting', attempt, retryAt: Date.now() + delay });
      // A refused upgrade (the session ended meanwhile, the login expired) looks like any other close here.
      options.sessionEnded().then(
        (reason) => {
          if (stopped || socket !== ws) return;
          if (reason) return finish(reason);
          retryTimer = setTimeout(connect, delay);
        },
        () => {
          if (!stopped && socket === ws) retryTimer = setTimeout(connect, delay);
        },
      );
    });
  };

  return {
    attach(ctx) {
      context = ctx;
      edgeTimer = setInterval(keepNearEdge, 1000);
      publish({});
      connect();
    },
    beforePlay() {
      const screen = context?.video;
      if (screen && screen.edgeMs - screen.currentTime * 1000 > MAX_LAG_MS) toEdge();
    },
    detach() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(positionTimer);
      clearInterval(heartbeat);
      clearInterval(edgeTimer);
      socket?.close(CloseCode.normal, 'viewer left');
      socket = null;
      context = null;
    },
  };
}
