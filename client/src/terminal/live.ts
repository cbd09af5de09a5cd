/**
 * The live terminal driver: the session's viewer socket (docs/ingest-protocol.md §5) into a terminal screen.
 * For an SSH session the server sends the cast header (seq 0) and then every stored piece from seq 1 on, so a
 * joining viewer rebuilds the whole screen; each media frame's bytes are cast lines. The status it publishes
 * (`live`) is the video live driver's, so the page shows the same connection, viewers and delay.
 */
import type { EndReason } from '../../../protocol/session.ts';
import type { Driver, DriverContext, LiveStatus } from '../player/core.ts';
import { initialLiveStatus, type LiveOptions, liveStatusChange, reconnectingStatus } from '../player/live.ts';
import { keepLiveSocket, type LiveSocketHandlers } from '../player/live-socket.ts';
import { decodeMediaFrame } from '../player/viewer-messages.ts';
import { parseEventPiece, parseHeaderPiece } from './cast.ts';
import type { TerminalScreen } from './screen.ts';

/** A joining viewer gets the history in a burst: the playhead goes to the edge once it has been quiet this long. */
const BURST_QUIET_MS = 300;
/** Further behind the newest piece than this while playing, the screen jumps to it. */
const MAX_LAG_MS = 4000;

export function terminalLiveDriver(sessionId: string, options: LiveOptions): Driver<TerminalScreen> {
  let context: DriverContext<TerminalScreen> | null = null;
  let socket: { stop(): void } | null = null;
  let edgeTimer: ReturnType<typeof setInterval> | undefined;
  let positionTimer: ReturnType<typeof setTimeout> | undefined;
  let positioned = false;
  /** Pieces already on the screen: a reconnect sends the history again. */
  const received = new Set<number>();
  let status: LiveStatus = initialLiveStatus();

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
    const change = liveStatusChange(text, status);
    if (change) publish(change);
  };

  const handlers: LiveSocketHandlers = {
    connecting() {
      positioned = false;
      clearTimeout(positionTimer);
    },
    text: onText,
    media: onMedia,
    malformed: (error) => publish({ error: `A malformed message from the server was ignored: ${error.message}` }),
    reconnecting: (attempt, retryAt, code) => publish(reconnectingStatus(status, attempt, retryAt, code)),
    ended: finish,
    sessionEnded: options.sessionEnded,
    over: () => status.endReason !== null,
  };

  return {
    attach(ctx) {
      context = ctx;
      edgeTimer = setInterval(keepNearEdge, 1000);
      publish({});
      socket = keepLiveSocket(sessionId, handlers);
    },
    beforePlay() {
      const screen = context?.video;
      if (screen && screen.edgeMs - screen.currentTime * 1000 > MAX_LAG_MS) toEdge();
    },
    detach() {
      clearTimeout(positionTimer);
      clearInterval(edgeTimer);
      socket?.stop();
      socket = null;
      context = null;
    },
  };
}
