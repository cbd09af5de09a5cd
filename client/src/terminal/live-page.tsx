/**
 * Watch Live for SSH sessions (`sessions:watch-live`): the session's terminal as the SSH proxy records it,
 * how far behind it is, who else is watching, and terminate, as on the video live page. Loaded on first use,
 * with xterm.js.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, api, call, describeFailure, type Permission, type SessionDetail } from '../api.ts';
import { dateTime } from '../format.ts';
import { BackToSessions } from '../pages/session-filters.tsx';
import { endedReason, type LivePlayerProps, LiveView } from '../watch/live-page.tsx';
import { terminalLiveDriver } from './live.ts';
import { useTerminalCore } from './use-terminal.ts';
import './terminal.css';

function TerminalLivePlayer(props: LivePlayerProps) {
  const host = useRef<HTMLElement>(null);
  const core = useTerminalCore(host, () =>
    terminalLiveDriver(props.sessionId, { sessionEnded: () => endedReason(props.sessionId) }),
  );
  return (
    <LiveView
      {...props}
      core={core}
      edgeLeadMs={0}
      media={<section ref={host} class="terminal-screen live-terminal" aria-label="Live terminal" />}
    />
  );
}

export function TerminalLivePage({ sessionId, can }: { sessionId: string; can: (permission: Permission) => boolean }) {
  const [session, setSession] = useState<SessionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    call(api.sessions[':id'].$get({ param: { id: sessionId } })).then(setSession, (failure: unknown) => {
      if (!(failure instanceof ApiFailure && failure.status === 403)) setError(describeFailure(failure));
    });
  }, [sessionId]);

  const title = session ? `${session.user} on ${session.target}` : `Session ${sessionId}`;
  return (
    <section class="watch" aria-labelledby="watch-title">
      <div class="toolbar watch-head">
        <h2 id="watch-title">Live terminal: {title}</h2>
        {session && <span class="muted">since {dateTime(session.startedAt)}</span>}
        <span class="spacer" />
        <BackToSessions />
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <p class="warning">{error}</p>}
      <TerminalLivePlayer sessionId={sessionId} session={session} can={can} onNotice={setNotice} />
    </section>
  );
}
