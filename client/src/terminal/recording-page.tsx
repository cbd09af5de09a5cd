/**
 * Watch Recording for SSH sessions (`recordings:view`): the terminal log replayed in xterm.js by the same
 * player core, controls, activity map, grid and search as a screen recording, the log's minutes under it,
 * and the `.cast` to download for asciinema. Loaded on first use, with xterm.js.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiFailure, api, call, describeFailure, type SessionDetail } from '../api.ts';
import { dateTime, duration } from '../format.ts';
import { BackToSessions } from '../pages/session-filters.tsx';
import { MIN_IDLE_MS } from '../player/idle.ts';
import { PlayerWithActivity } from '../watch/recording-page.tsx';
import { minuteSegments, quietStretches } from './cast.ts';
import { MinuteSegments } from './minutes.tsx';
import { type LoadedCast, recordedCastDriver } from './recorded.ts';
import { useTerminalCore } from './use-terminal.ts';
import './terminal.css';

function TerminalPlayer({
  session,
  url,
  sessionId,
}: {
  session: SessionDetail | null;
  url: string;
  sessionId: string;
}) {
  const host = useRef<HTMLElement>(null);
  const [cast, setCast] = useState<LoadedCast | null>(null);
  const core = useTerminalCore(host, () =>
    recordedCastDriver(url, session?.recording.mediaDurationMs ?? null, setCast),
  );
  const idle = useMemo(() => (cast ? quietStretches(cast.events, cast.durationMs, MIN_IDLE_MS) : []), [cast]);
  const segments = useMemo(() => (cast ? minuteSegments(cast.events, cast.durationMs) : []), [cast]);

  return (
    <PlayerWithActivity
      core={core}
      session={session}
      sessionId={sessionId}
      idle={idle}
      screen={<section ref={host} class="terminal-screen" aria-label="Terminal recording" />}
    >
      {core && cast && <MinuteSegments core={core} segments={segments} />}
    </PlayerWithActivity>
  );
}

export function TerminalRecordingPage({ sessionId }: { sessionId: string }) {
  const [session, setSession] = useState<SessionDetail | null>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'limited'>('loading');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call(api.sessions[':id'].$get({ param: { id: sessionId } })).then(
      (detail) => {
        setSession(detail);
        setState('ready');
      },
      (failure: unknown) => {
        // Without Session Monitoring the details are hidden, but the recording itself may still be viewed.
        if (failure instanceof ApiFailure && failure.status === 403) setState('limited');
        else setError(describeFailure(failure));
      },
    );
  }, [sessionId]);

  const url = session?.recording.url ?? `/api/v1/sessions/${sessionId}/recording.cast`;
  const title = session ? `${session.user} on ${session.target}` : `Session ${sessionId}`;
  const playable = state === 'limited' || Boolean(session?.recording.url);

  return (
    <section class="watch" aria-labelledby="watch-title">
      <div class="toolbar watch-head">
        <h2 id="watch-title">Terminal recording: {title}</h2>
        {session && (
          <span class="muted">
            {dateTime(session.startedAt)} · {duration(session.durationMs)}
          </span>
        )}
        <span class="spacer" />
        {playable && <a href={`${url}?download=1`}>Export as .cast</a>}
        <BackToSessions />
      </div>
      {error && <p role="alert">{error}</p>}
      {state === 'loading' && !error && <p>Loading…</p>}
      {state === 'ready' && session && !session.recording.url && (
        <p class="warning">
          This session has no recording to play: it is {session.recording.status}
          {session.status === 'active' ? '. Watch it live from the sessions list.' : '.'}
        </p>
      )}
      {playable && <TerminalPlayer session={session} url={url} sessionId={sessionId} />}
    </section>
  );
}
