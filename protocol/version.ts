/** Version of the ingest and live protocols. Bumped only for incompatible changes; additions keep it. */
export const PROTOCOL_VERSION = 1 as const;

/** Heartbeat text frames: answered by the runtime's auto-response without waking the Durable Object. */
export const HEARTBEAT_PING = 'ping' as const;
export const HEARTBEAT_PONG = 'pong' as const;

/** WebSocket close codes used by Witness (4000–4999 is the application range). */
export const CloseCode = {
  normal: 1000,
  /** The session ended (by the user, an admin, an alarm); the launcher must not reconnect. */
  sessionEnded: 4000,
  /** A newer control connection for the same session replaced this one. */
  replaced: 4001,
  /** A message could not be parsed or was not allowed. */
  protocolError: 4002,
  /** The peer spoke a protocol version the server does not support. */
  unsupportedVersion: 4003,
  /** The peer sent frames faster than its role may (durable/frame-budget.ts); reconnect with backoff, send less. */
  rateLimited: 4008,
  /** A frame was larger than its role may send (RFC 6455's "Message Too Big"). */
  messageTooLarge: 1009,
  /**
   * The server is restarting (RFC 6455's "Service Restart"): sent to live viewers before a graceful stop, so
   * the console says so and reconnects; the session goes on. An abrupt stop is seen as 1006 instead.
   */
  serverRestart: 1012,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
