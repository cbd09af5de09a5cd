/**
 * The page around every player, live or recorded, screen or terminal: the session's details, a heading with
 * who, where and when, the page's actions and the way back to the sessions list. The players plug in.
 */
import type { ComponentChildren, ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, call, describeFailure, type Permission, type SessionDetail } from '../api.ts';
import { dateTime, duration } from '../format.ts';
import { BackToSessions } from '../pages/session-filters.tsx';
import { RecordingProcessing } from '../processing.tsx';

/** What a live page gives its player (a `<video>` or a terminal). */
export interface LivePlayerProps {
  sessionId: string;
  session: SessionDetail | null;
  can: (permission: Permission) => boolean;
  onNotice: (note: string) => void;
}

/** What a recording page gives its player; `session` is null without Session Monitoring. */
export interface RecordedPlayerProps {
  session: SessionDetail | null;
  url: string;
  sessionId: string;
}

/**
 * The session's details. Without Session Monitoring (403) they are hidden, `limited`, but the session itself
 * may still be watched.
 */
function useSessionDetail(sessionId: string) {
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
        if (failure instanceof ApiFailure && failure.status === 403) setState('limited');
        else setError(describeFailure(failure));
      },
    );
  }, [sessionId]);
  return { session, state, error };
}

function WatchPage({
  heading,
  sessionId,
  session,
  when,
  actions,
  children,
}: {
  heading: string;
  sessionId: string;
  session: SessionDetail | null;
  /** When the session was, once its details are known. */
  when: (session: SessionDetail) => string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  const title = session ? `${session.user} on ${session.target}` : `Session ${sessionId}`;
  return (
    <section class="watch" aria-labelledby="watch-title">
      <div class="toolbar watch-head">
        <h2 id="watch-title">
          {heading}: {title}
        </h2>
        {session && <span class="muted">{when(session)}</span>}
        <span class="spacer" />
        {actions}
        <BackToSessions />
      </div>
      {children}
    </section>
  );
}

/** A live page: since when, what terminate reported, and the live `Player`. */
export function LivePage({
  sessionId,
  can,
  heading,
  Player,
}: {
  sessionId: string;
  can: (permission: Permission) => boolean;
  heading: string;
  Player: ComponentType<LivePlayerProps>;
}) {
  const { session, error } = useSessionDetail(sessionId);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <WatchPage heading={heading} sessionId={sessionId} session={session} when={(s) => `since ${dateTime(s.startedAt)}`}>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <p class="warning">{error}</p>}
      <Player sessionId={sessionId} session={session} can={can} onNotice={setNotice} />
    </WatchPage>
  );
}

/** What an auditor downloads of a session (each download is audited): its activity, a terminal's transcript. */
function Exports({ sessionId, transcript }: { sessionId: string; transcript: boolean }) {
  const base = `/api/v1/sessions/${sessionId}`;
  return (
    <nav class="actions" aria-label="Exports">
      <a href={`${base}/activity.csv`} download>
        Activity CSV
      </a>
      <a href={`${base}/activity.json`} download>
        Activity JSON
      </a>
      {transcript && (
        <a href={`${base}/transcript.txt`} download>
          Transcript
        </a>
      )}
    </nav>
  );
}

/**
 * A recording page: when and how long, the sealed `file` to download (`download`: the link's words), and the
 * recorded `Player` once there is a recording to play.
 */
export function RecordingPage({
  sessionId,
  heading,
  file,
  download,
  Player,
}: {
  sessionId: string;
  heading: string;
  file: 'recording.webm' | 'recording.cast';
  download: string;
  Player: ComponentType<RecordedPlayerProps>;
}) {
  const { session, state, error } = useSessionDetail(sessionId);
  const url = session?.recording.url ?? `/api/v1/sessions/${sessionId}/${file}`;
  const playable = state === 'limited' || Boolean(session?.recording.url);
  return (
    <WatchPage
      heading={heading}
      sessionId={sessionId}
      session={session}
      when={(s) => `${dateTime(s.startedAt)} · ${duration(s.durationMs)}`}
      actions={
        <>
          {playable && <a href={`${url}?download=1`}>{download}</a>}
          {file === 'recording.webm' && session?.recording.url && (
            <RecordingProcessing sessionId={sessionId} initial={session.processing} />
          )}
          <Exports sessionId={sessionId} transcript={file === 'recording.cast'} />
        </>
      }
    >
      {error && <p role="alert">{error}</p>}
      {state === 'loading' && !error && <p>Loading…</p>}
      {state === 'ready' && session && !session.recording.url && (
        <p class="warning">
          {session.retention.notice
            ? // Retention deleted the media: say so, not the status it had when it was sealed.
              `This session has no recording to play: ${session.retention.notice}; its manifest and audit log are kept`
            : `This session has no recording to play: it is ${session.recording.status}`}
          {session.recording.error ? ` (${session.recording.error})` : ''}
          {session.status === 'active' ? '. Watch it live from the sessions list.' : '.'}
        </p>
      )}
      {playable && <Player session={session} url={url} sessionId={sessionId} />}
    </WatchPage>
  );
}
