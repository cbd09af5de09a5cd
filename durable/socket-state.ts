/**
 * A session object's sockets: what each remembers across hibernation (its attachment), typed and validated on
 * every read, and the one way the object sends on or closes a socket that may have closed under it. A socket
 * that is no longer open is skipped (its close event does the bookkeeping); any other failure is logged with
 * the session and counted, never swallowed.
 */
import { z } from 'zod';
import { Viewer } from '../protocol/viewer.ts';

export const LauncherAttachment = z.strictObject({
  role: z.literal('launcher'),
  /** The launcher sent a valid hello on this socket. */
  greeted: z.boolean(),
  /** The address the socket came from, as the Worker saw it; absent on sockets from before it was kept. */
  seenFrom: z.string().max(64).nullable().default(null),
});
export type LauncherAttachment = z.infer<typeof LauncherAttachment>;

export const ViewerAttachment = z.strictObject({
  role: z.literal('viewer'),
  viewer: Viewer,
  /**
   * The principal and the browser tab this socket belongs to (null when the client named no tab): a tab that
   * reconnects after its socket died without a close replaces its old socket instead of watching twice.
   */
  tab: z.string().nullable(),
  /** Highest seq this viewer has been sent (-1: nothing yet). */
  sentUpTo: z.number().int().min(-1),
  /** False until the joining catch-up has been sent; live pieces wait for it. */
  caughtUp: z.boolean(),
});
export type ViewerAttachment = z.infer<typeof ViewerAttachment>;

const SocketAttachment = z.discriminatedUnion('role', [LauncherAttachment, ViewerAttachment]);
export type SocketAttachment = z.infer<typeof SocketAttachment>;

/** What `ws` remembers; throws (naming what is wrong) if its attachment is not one this code wrote. */
export function attachmentOf(ws: WebSocket): SocketAttachment {
  const parsed = SocketAttachment.safeParse(ws.deserializeAttachment());
  if (!parsed.success) throw new Error(`a session socket's attachment is not valid: ${parsed.error.message}`);
  return parsed.data;
}

export function launcherAttachment(ws: WebSocket): LauncherAttachment {
  const attachment = attachmentOf(ws);
  if (attachment.role !== 'launcher') throw new Error('expected a launcher socket, found a viewer socket');
  return attachment;
}

export function viewerAttachment(ws: WebSocket): ViewerAttachment {
  const attachment = attachmentOf(ws);
  if (attachment.role !== 'viewer') throw new Error('expected a viewer socket, found a launcher socket');
  return attachment;
}

/** Remembers `attachment` on `ws`, if it is still open. */
export function remember(ws: WebSocket, attachment: SocketAttachment, sessionId: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  attempt(() => ws.serializeAttachment(attachment), 'remember what belongs to', sessionId);
}

/** Sends `data` on `ws` if it is open; false if it was not, or the send failed (logged and counted). */
export function sendOn(ws: WebSocket, data: string | ArrayBuffer | Uint8Array, sessionId: string): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  return attempt(() => ws.send(data), 'send on', sessionId);
}

/** Closes `ws` with `code`, unless it is closed or closing already. */
export function closeSocket(ws: WebSocket, code: number, reason: string, sessionId: string): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  attempt(() => ws.close(code, reason), 'close', sessionId);
}

/** Failures of sends, closes and attachments on sockets the runtime still called open, since the isolate started. */
export const socketFailures = { count: 0 };

function attempt(act: () => void, what: string, sessionId: string): boolean {
  try {
    act();
    return true;
  } catch (error) {
    socketFailures.count++;
    console.warn(`could not ${what} a socket`, sessionId, `(failure ${socketFailures.count})`, error);
    return false;
  }
}
