/**
 * How much a client may send on a session socket: a token bucket per socket and a largest frame, per role.
 * The Worker counts every frame against these before passing it on (worker/socket-relay.ts); a socket over its
 * budget is closed (`CloseCode.rateLimited`, `CloseCode.messageTooLarge`). Pure, so it is tested on its own.
 */

export type SocketRole = 'launcher' | 'viewer';

export interface FrameLimit {
  /** Frames a socket may send at once: the bucket's size. */
  burst: number;
  /** Frames a minute it may go on sending: the bucket's refill. */
  perMinute: number;
  /** Largest frame, in bytes (UTF-8 for text frames). */
  maxFrameBytes: number;
}

/**
 * Heartbeats (`ping`) are not counted: the session object's runtime answers them without waking it.
 * - Viewers send nothing else (docs/ingest-protocol.md, §5): a few stray frames get an error, then the socket closes.
 * - A launcher sends `hello` per connection, `activity` at most every 10 s, `delivered` per admin command and
 *   `renew` a few times per token; 30 at once and one a second is ten times that. Its largest valid frame is an
 *   `end` whose 4,096-character `error` is all JSON escapes: under 25 KiB.
 */
export const FRAME_LIMITS = {
  viewer: { burst: 5, perMinute: 6, maxFrameBytes: 1024 },
  launcher: { burst: 30, perMinute: 60, maxFrameBytes: 32 * 1024 },
} as const satisfies Record<SocketRole, FrameLimit>;

/**
 * After a socket is closed for flooding, how long the same client (the session's launcher, or one viewer
 * principal) may not open that socket again: its upgrade gets a 429. A flooder that reconnects at once would
 * otherwise cost an upgrade and a burst every few seconds; a real client reconnects with backoff anyway.
 */
export const FLOOD_COOLDOWN_MS = 10_000;

/** One socket's bucket, and what the socket has sent. */
export interface FrameBudget {
  tokens: number;
  /** When `tokens` was counted (epoch ms). */
  at: number;
  /** Frames and bytes this socket sent since the budget was made, the refused frame included. */
  frames: number;
  bytes: number;
}

/** `too_large` is checked before `too_fast`: an oversized frame is refused however slowly it came. */
export type FrameVerdict = 'admit' | 'too_large' | 'too_fast';

export function freshBudget(limit: FrameLimit, now: number): FrameBudget {
  return { tokens: limit.burst, at: now, frames: 0, bytes: 0 };
}

/** Counts one frame of `bytes` against `budget`; returns the verdict and the budget after it. */
export function spendFrame(
  budget: FrameBudget,
  limit: FrameLimit,
  bytes: number,
  now: number,
): { verdict: FrameVerdict; budget: FrameBudget } {
  const elapsed = Math.max(0, now - budget.at);
  const tokens = Math.min(limit.burst, budget.tokens + (elapsed * limit.perMinute) / 60_000);
  const counted = { tokens, at: Math.max(now, budget.at), frames: budget.frames + 1, bytes: budget.bytes + bytes };
  if (bytes > limit.maxFrameBytes) return { verdict: 'too_large', budget: counted };
  if (tokens < 1) return { verdict: 'too_fast', budget: counted };
  return { verdict: 'admit', budget: { ...counted, tokens: tokens - 1 } };
}

/**
 * A frame's size in bytes: a binary frame's length, a text frame's UTF-8 length. A text frame longer than
 * `cap` UTF-16 units is at least that many bytes, so its length is returned uncounted (a lower bound above
 * `cap`): a 32 MiB frame costs no walk over its characters.
 */
export function frameBytes(message: string | ArrayBuffer, cap: number): number {
  if (typeof message !== 'string') return message.byteLength;
  if (message.length > cap) return message.length;
  let bytes = message.length;
  for (let i = 0; i < message.length; i++) {
    const unit = message.charCodeAt(i);
    // U+0080–U+07FF take 2 bytes, the rest of the BMP 3; a surrogate pair (2 units) takes 4.
    if (unit >= 0x80) bytes += unit >= 0x800 && (unit < 0xd800 || unit > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/**
 * Which budget a socket upgrade on `path` gets, for the local edge (scripts/local-edge.ts), which sees only paths:
 * a launcher's control socket or a live viewer's; null for anything else.
 */
export function socketRoleOf(path: string): SocketRole | null {
  const bare = path.split('?', 1)[0]!;
  if (/^\/ingest\/v1\/sessions\/[^/]+\/control$/.test(bare)) return 'launcher';
  if (/^\/api\/v1\/sessions\/[^/]+\/live$/.test(bare)) return 'viewer';
  return null;
}

/**
 * What the local edge lets through to the Worker: four times the burst and twice the rate of the Worker's own
 * budget. A client well within the Worker's budget never waits at the edge; a flooding one reaches the Worker at
 * twice its rate at most, so the Worker (which alone closes and audits) always sees it go over, and closes it
 * after a bounded number of frames. The edge holds frames back (it stops reading); it never drops one.
 */
export function edgeLimit(limit: FrameLimit): FrameLimit {
  return { burst: limit.burst * 4, perMinute: limit.perMinute * 2, maxFrameBytes: limit.maxFrameBytes };
}
