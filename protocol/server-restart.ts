/**
 * `POST /api/v1/server/restarting`: the local server (`npm start`, scripts/start.ts) says it is about to stop,
 * and every live viewer's socket is closed with `CloseCode.serverRestart` (1012) first. Not an API key call:
 * the caller proves it holds the server's WITNESS_TOKEN_SECRET by sending the restart key derived from it.
 */
import { z } from 'zod';

export const SERVER_RESTART_PATH = '/api/v1/server/restarting';

/** The restart key is HMAC-SHA256(WITNESS_TOKEN_SECRET, this), lowercase hex, sent as `Bearer <key>`. */
export const SERVER_RESTART_KEY_CONTEXT = 'witness-server-restart-v1';

/** Reason text of the 1012 close the viewers get. */
export const SERVER_RESTART_REASON = 'server restarting';

export const ServerRestartReply = z.strictObject({
  /** Sessions pending or active, whose viewers were told. */
  sessions: z.number().int().min(0),
  /** Viewer sockets closed with 1012. */
  viewers: z.number().int().min(0),
});
export type ServerRestartReply = z.infer<typeof ServerRestartReply>;
