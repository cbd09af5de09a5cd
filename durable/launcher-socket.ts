/** The launcher's control socket as SessionDO sees it: what it remembers, how messages are read and sent. */
import {
  type LauncherMessage,
  LauncherMessage as LauncherMessageSchema,
  type ServerControlMessage,
} from '../protocol/control.ts';
import { sendOn } from './socket-state.ts';

/** Parses one frame from a launcher; never throws. */
export function parseLauncherMessage(
  message: string | ArrayBuffer,
): { ok: true; message: LauncherMessage } | { ok: false; error: string } {
  if (typeof message !== 'string') return { ok: false, error: 'Control messages are JSON text frames.' };
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return { ok: false, error: 'Not valid JSON.' };
  }
  const result = LauncherMessageSchema.safeParse(json);
  if (!result.success) {
    return {
      ok: false,
      error: result.error.issues
        .map((i) => i.message)
        .join('; ')
        .slice(0, 500),
    };
  }
  return { ok: true, message: result.data };
}

export function sendControl(ws: WebSocket, message: ServerControlMessage, sessionId: string): void {
  sendOn(ws, JSON.stringify(message), sessionId);
}

export function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
