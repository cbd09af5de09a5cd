/**
 * Watch Live for SSH sessions (`sessions:watch-live`): the session's terminal as the SSH proxy records it,
 * how far behind it is, who else is watching, and terminate, as on the video live page. Loaded on first use,
 * with xterm.js.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EndReason } from '../../../protocol/session.ts';
import { ApiFailure, api, call, describeFailure, type Permission, type SessionDetail } from '../api.ts';
import { dateTime } from '../format.ts';
import { usePlayerEvent, usePlayerState } from '../player/use-player.ts';
import { TerminateDialog } from '../terminate-dialog.tsx';
import { RecordingLink } from '../watch/live-page.tsx';
import { terminalLiveDriver } from './live.ts';
import { useTerminalCore } from './use-terminal.ts';
import './terminal.css';

/** Further behind the newest piece than this, the page offers to jump to live. */
const BEHIND_NOTICE_MS = 4000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function TerminalLivePlayer({
  sessionId,
  session,
  can,
  onNotice,
}: {
  sessionId: string;
  session: SessionDetail | null;
  can: (permission: Permission) => boolean;
  onNotice: (note: string) => void;
}) {
  const host = useRef<HTMLElement>(null);
  const core = useTerminalCore(host, () =>
    terminalLiveDriver(sessionId, {
      sessionEnded: async () => {
        const detail = await call(api.sessions[':id'].$get({ param: { id: sessionId } }));
        return detail.status === 'ended' ? ((detail.endReason as EndReason | null) ?? 'ended_by_user') : null;
      },
    }),
  );
  const live = usePlayerEvent(core, 'live');
  const state = usePlayerState(core);
  const [terminating, setTerminating] = useState(false);

  const ended = live?.connection === 'ended';
  const behindMs = live?.edgeMs != null && state ? Math.max(0, live.edgeMs - state.currentMs) : null;
  const sinceStoredMs = live?.newestStoredAt != null ? Math.max(0, Date.now() - live.newestStoredAt) : null;
  const names = live?.viewers.map((v) => v.name) ?? [];

  return (
    <div class="live">
      <div class="live-status">
        {live?.connection === 'live' && (
          <span class="live-badge" role="img" aria-label="Live">
            LIVE
          </span>
        )}
        {live?.connection === 'connecting' && <span class="badge">Connecting…</span>}
        {live?.connection === 'reconnecting' && (
          <span class="badge warn" role="status">
            Connection lost; reconnecting (attempt {live.attempt})…
          </span>
        )}
        {ended && <span class="badge ended">Ended</span>}
        {!ended && sinceStoredMs !== null && (
          <span class="delay">
            Delay {seconds(sinceStoredMs + (behindMs ?? 0))}{' '}
            <span class="muted">
              (newest piece stored {seconds(sinceStoredMs)} ago, playing {seconds(behindMs ?? 0)} behind it)
            </span>
          </span>
        )}
        <span class="spacer" />
        {!ended && core && state && (
          <button type="button" onClick={() => core.togglePlay()}>
            {state.playing ? 'Pause' : 'Play'}
          </button>
        )}
        {!ended && core && behindMs !== null && behindMs > BEHIND_NOTICE_MS && (
          <button type="button" onClick={() => live?.edgeMs != null && core.seek(live.edgeMs)}>
            Go to live
          </button>
        )}
        {!ended && can('sessions:terminate') && (
          <button type="button" class="danger" onClick={() => setTerminating(true)}>
            Terminate
          </button>
        )}
      </div>
      {ended && (
        <p class="notice session-ended" role="status">
          The session ended{live?.endReason ? ` (${live.endReason.replaceAll('_', ' ')})` : ''}.{' '}
          <RecordingLink sessionId={sessionId} canView={can('recordings:view')} />
        </p>
      )}
      <section ref={host} class="terminal-screen live-terminal" aria-label="Live terminal" />
      <div class="live-facts">
        {!ended && (
          <p>
            <span class="muted">Watching now: </span>
            <span class="viewers">{names.length ? names.join(', ') : '—'}</span>
          </p>
        )}
        {live && live.skippedPieces > 0 && (
          <p class="muted">
            {live.skippedPieces} piece(s) were lost on the way and skipped; the recording may still get them.
          </p>
        )}
        {live?.error && <p role="alert">{live.error}</p>}
        {state?.error && <p role="alert">{state.error}</p>}
      </div>
      {terminating && (
        <TerminateDialog
          session={{ id: sessionId, user: session?.user ?? 'this user', target: session?.target ?? 'this session' }}
          onClose={() => setTerminating(false)}
          onDone={(note) => {
            setTerminating(false);
            onNotice(note);
          }}
        />
      )}
    </div>
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
        <a href="#/sessions">Back to sessions</a>
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
