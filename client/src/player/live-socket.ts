/**
 * The address of a session's live socket. It names this browser tab with an id kept for the page's life, so
 * when a socket dies without a close and the tab reconnects, the server replaces the old socket rather than
 * counting this tab as a second viewer.
 */
const TAB = crypto.randomUUID();

export function liveSocketUrl(sessionId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/sessions/${encodeURIComponent(sessionId)}/live?tab=${TAB}`;
}
