/**
 * A session socket as the Worker holds it: the client's WebSocket on one side, the session object's on the
 * other. Every frame the client sends is counted against its role's budget (protocol/frame-budget.ts) before it
 * is passed on. A socket over budget gets no reply: it is closed with 4008 (too fast) or 1009 (too large),
 * nothing more of it reaches the object, and the close is audited once. Frames from the object pass straight on.
 *
 * Here, not in the object: the runtime delivers each frame that reaches a hibernatable socket as an event of its
 * own, and goes on doing so after the object closed the socket, until the peer closes too. A flood let through
 * to the object costs it that dispatch per frame whatever its handler does (docs/decisions.md, "Socket limits
 * in the Worker").
 */
import type { AuditAction } from '../protocol/audit.ts';
import {
  FRAME_LIMITS,
  type FrameVerdict,
  frameBytes,
  freshBudget,
  type SocketRole,
  spendFrame,
} from '../protocol/frame-budget.ts';
import { CloseCode, HEARTBEAT_PING } from '../protocol/version.ts';
import { auditLog } from '../schema/index.ts';
import { database } from '../server/db/index.ts';
import { ApiError } from './errors.ts';
import { clientAddress } from './client-address.ts';
import type { Context } from 'hono';

/** Who is at the client end, for the audit row of a flood. */
export interface SocketPeer {
  role: SocketRole;
  sessionId: string;
  actor: { kind: string; id: string | null; name: string };
  ip: string | null;
  userAgent: string | null;
}

export interface RelayContext {
  db: D1Database;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Tells the session object this client sent too fast (it refuses the client's upgrades for a while). */
  flooded: () => Promise<unknown>;
}

const FLOOD_CLOSE = {
  too_fast: { code: CloseCode.rateLimited, reason: 'too many frames' },
  too_large: { code: CloseCode.messageTooLarge, reason: 'frame too large' },
} as const satisfies Record<Exclude<FrameVerdict, 'admit'>, { code: CloseCode; reason: string }>;

/**
 * The client's request headers as the session object gets them: every `x-witness-*` the client sent dropped
 * (those are the Worker's to say), then `ours` set.
 */
export function objectHeaders(raw: Headers, ours: Record<string, string>): Headers {
  const headers = new Headers(raw);
  for (const name of [...headers.keys()]) if (name.startsWith('x-witness-')) headers.delete(name);
  for (const [name, value] of Object.entries(ours)) headers.set(name, value);
  return headers;
}

/**
 * Relays the object's answer to a socket upgrade of `role` for `sessionId`: counted against the role's budget,
 * a flood audited as `actor`'s, and `flooded` told of it (the object then holds the client off for a while).
 */
export function relayFor<E extends { Bindings: Env }>(
  c: Context<E>,
  upgraded: Response,
  role: SocketRole,
  sessionId: string,
  actor: SocketPeer['actor'],
  flooded: () => Promise<unknown>,
): Response {
  const peer: SocketPeer = {
    role,
    sessionId,
    actor,
    ip: clientAddress(c),
    userAgent: c.req.header('user-agent') ?? null,
  };
  return relaySocket(upgraded, peer, { db: c.env.DB, waitUntil: (p) => c.executionCtx.waitUntil(p), flooded });
}

/**
 * Counts one upgrade of a session socket against SOCKET_LIMITER (wrangler.jsonc), keyed by `key` (the role, the
 * session and, for viewers, who). A flood closes the socket after a few frames; this bounds how often it can open
 * again, each open costing an authentication, a call to the session object and, for viewers, an audit row.
 */
export async function admitUpgrade(limiter: RateLimit, key: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success) {
    throw new ApiError(
      429,
      'too_many_connections',
      'Too many connections to this socket of the session; wait a minute.',
    );
  }
}

/**
 * Puts the Worker between the client and the object's socket in `upstream` (the object's 101 answer). Anything
 * but a 101 is returned as it is.
 */
export function relaySocket(upstream: Response, peer: SocketPeer, context: RelayContext): Response {
  const inner = upstream.webSocket;
  if (upstream.status !== 101 || !inner) return upstream;
  const { 0: client, 1: outer } = new WebSocketPair();
  for (const ws of [inner, outer]) {
    ws.binaryType = 'arraybuffer'; // relayed as bytes, not as Blobs
    ws.accept();
  }
  const limit = FRAME_LIMITS[peer.role];
  let budget = freshBudget(limit, Date.now());
  let open = true;

  const fromClient = ({ data }: MessageEvent) => {
    if (!open) return;
    // Heartbeats go on uncounted: the object's runtime answers them without waking it.
    if (data === HEARTBEAT_PING) return send(inner, data);
    const spent = spendFrame(budget, limit, frameBytes(data, limit.maxFrameBytes), Date.now());
    budget = spent.budget;
    if (spent.verdict === 'admit') return send(inner, data as string | ArrayBuffer);
    open = false;
    // What the client sent before it saw the close still arrives, frame by frame: let it cost no more than it must.
    outer.removeEventListener('message', fromClient);
    const { code, reason } = FLOOD_CLOSE[spent.verdict];
    close(outer, code, reason);
    close(inner, code, reason);
    // Too fast is a flood, and waits before it may reconnect; one oversized frame is a bug, and need not.
    if (spent.verdict === 'too_fast') {
      context.waitUntil(
        context.flooded().catch((error: unknown) => console.error('telling the session of a flood failed', error)),
      );
    }
    context.waitUntil(
      auditFlood(context.db, peer, {
        role: peer.role,
        reason: spent.verdict,
        closeCode: code,
        frames: budget.frames,
        bytes: budget.bytes,
        limit,
      }),
    );
  };
  outer.addEventListener('message', fromClient);
  inner.addEventListener('message', ({ data }) => send(outer, data as string | ArrayBuffer));
  // A close on either side closes the other with the same code (one that may be sent: 1005 and 1006 may not).
  outer.addEventListener('close', ({ code, reason }) => {
    open = false;
    close(outer, sendable(code), reason);
    close(inner, sendable(code), reason);
  });
  inner.addEventListener('close', ({ code, reason }) => {
    open = false;
    close(inner, sendable(code), reason);
    close(outer, sendable(code), reason);
  });
  outer.addEventListener('error', () => {
    open = false;
    close(inner, 1001, 'the client went away');
  });
  inner.addEventListener('error', () => {
    open = false;
    close(outer, 1011, 'the session is unavailable');
  });
  return new Response(null, { status: 101, webSocket: client });
}

function sendable(code: number): number {
  if (code === 1005) return CloseCode.normal;
  if (code === 1006 || code === 1015) return 1001;
  return code;
}

/** Passes `data` on if `ws` is open (a closed one's close event does the rest); a failed send is logged. */
function send(ws: WebSocket, data: string | ArrayBuffer): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  try {
    ws.send(data);
  } catch (error) {
    console.warn('relaying a session socket frame failed', error);
  }
}

/** Closes `ws` unless it is closed or closing already; a failed close is logged. */
function close(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  try {
    ws.close(code, reason);
  } catch (error) {
    console.warn('closing a relayed session socket failed', code, error);
  }
}

async function auditFlood(db: D1Database, peer: SocketPeer, details: Record<string, unknown>): Promise<void> {
  try {
    await database(db)
      .insert(auditLog)
      .values({
        at: Date.now(),
        actorKind: peer.actor.kind,
        actorId: peer.actor.id,
        actorName: peer.actor.name,
        action: 'socket.closed_for_flood' satisfies AuditAction,
        targetType: 'session',
        targetId: peer.sessionId,
        ip: peer.ip,
        userAgent: peer.userAgent?.slice(0, 300) ?? null,
        details,
      })
      .run();
  } catch (error) {
    console.error('auditing a flooding socket failed', peer.sessionId, error);
  }
}
