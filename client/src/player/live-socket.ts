/**
 * A session's live socket as both live drivers (video and terminal) use it: text and media frames handed on,
 * heartbeats kept, and — when it drops — a capped, jittered reconnect unless the session turns out to be over.
 * A drop is any close but `sessionEnded` (4000): 1006 (the connection died, e.g. the server was killed),
 * 1001 (going away) and 1012 (`serverRestart`, sent before a graceful restart) alike.
 *
 * The address names this browser tab with an id kept for the page's life, so when a socket dies without a
 * close and the tab reconnects, the server replaces the old socket rather than counting the tab twice.
 */
import type { EndReason } from '../../../protocol/session.ts';
import { CloseCode, HEARTBEAT_PING } from '../../../protocol/version.ts';
import { reconnectDelay } from './backoff.ts';

const TAB = crypto.randomUUID();
/** Keeps proxies from closing an idle socket; answered by the Durable Object's auto-response. */
const HEARTBEAT_MS = 30_000;

export function liveSocketUrl(sessionId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/live?tab=${TAB}`;
}

export interface LiveSocketHandlers {
  /** A new socket is about to open (the first one, or a reconnect). */
  connecting(): void;
  text(text: string): void;
  media(frame: Uint8Array): void;
  /** A frame the handlers threw on; it was skipped. */
  malformed(error: Error): void;
  /** Dropped with close `code`: reconnecting at `retryAt` (attempt counts from 1). */
  reconnecting(attempt: number, retryAt: number, code: number): void;
  /** Over: `reason` when the server or the API said why, null when the socket was closed as sealed. */
  ended(reason: EndReason | null): void;
  /** Asked after a drop: is the session over? (A socket refused with 409 says nothing.) */
  sessionEnded(): Promise<EndReason | null>;
  /** True once the server said `ended`: the close that follows is the end, not a drop. */
  over(): boolean;
}

/** Opens the socket and keeps it open until `stop()` or the session ends. */
export function keepLiveSocket(sessionId: string, handlers: LiveSocketHandlers): { stop(): void } {
  let socket: WebSocket | null = null;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let stopped = false;

  const end = (reason: EndReason | null) => {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(heartbeat);
    handlers.ended(reason);
  };

  const connect = () => {
    handlers.connecting();
    const ws = new WebSocket(liveSocketUrl(sessionId));
    ws.binaryType = 'arraybuffer';
    socket = ws;
    ws.addEventListener('message', (event: MessageEvent<ArrayBuffer | string>) => {
      if (socket !== ws) return;
      try {
        if (typeof event.data === 'string') handlers.text(event.data);
        else handlers.media(new Uint8Array(event.data));
      } catch (error) {
        handlers.malformed(error as Error);
      }
    });
    ws.addEventListener('open', () => {
      attempt = 0;
      clearInterval(heartbeat);
      heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(HEARTBEAT_PING), HEARTBEAT_MS);
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws || stopped) return;
      clearInterval(heartbeat);
      if (event.code === CloseCode.sessionEnded || handlers.over()) return end(null);
      attempt++;
      const delay = reconnectDelay(attempt);
      handlers.reconnecting(attempt, Date.now() + delay, event.code);
      // A refused upgrade (the session ended meanwhile, the login expired) looks like any other close here.
      handlers.sessionEnded().then(
        (reason) => {
          if (stopped || socket !== ws) return;
          if (reason) return end(reason);
          retryTimer = setTimeout(connect, delay);
        },
        () => {
          if (!stopped && socket === ws) retryTimer = setTimeout(connect, delay);
        },
      );
    });
  };

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeat);
      socket?.close(CloseCode.normal, 'viewer left');
      socket = null;
    },
  };
}
