/** Sessions: active and ended, with terminate and recording playback for those allowed to. */
import { useEffect, useState } from 'preact/hooks';
import { api, call, describeFailure, type Permission, type SessionSummary } from '../api.ts';
import { Dialog } from '../dialog.tsx';
import { dateTime, duration } from '../format.ts';
import { TerminateDialog } from '../terminate-dialog.tsx';

const REFRESH_MS = 5000;

/** The list's tabs; pending sessions were launched and wait for their launcher to connect. */
const TABS = { active: 'Active', pending: 'Pending', ended: 'Ended', all: 'All' } as const;
type Tab = keyof typeof TABS;

function Player({ session, onClose }: { session: SessionSummary; onClose: () => void }) {
  return (
    <Dialog title={`Recording: ${session.user} → ${session.target}`} onClose={onClose}>
      {/* The login cookie authenticates the media requests, so the player streams and seeks the file itself. */}
      {/* biome-ignore lint/a11y/useMediaCaption: screen recordings have no audio track to caption */}
      <video class="recording" controls preload="metadata" src={session.recording.url ?? undefined} />
      <div class="actions">
        <a href={`#/sessions/${session.id}/recording`}>Open with activity</a>
        <a href={`${session.recording.url}?download=1`}>Download</a>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

export function SessionsPage({ can }: { can: (permission: Permission) => boolean }) {
  const [status, setStatus] = useState<Tab>('active');
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [playing, setPlaying] = useState<SessionSummary | null>(null);
  const [terminating, setTerminating] = useState<SessionSummary | null>(null);

  /** Bumped to reload at once (after a terminate) instead of at the next poll. */
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    let current = true;
    const load = () =>
      call(api.sessions.$get({ query: status === 'all' ? {} : { status } }))
        .then((r) => {
          if (!current) return;
          setSessions(r.sessions);
          setError(null);
        })
        .catch((e: unknown) => current && setError(describeFailure(e)));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [status, reloads]);

  const canTerminate = can('sessions:terminate');
  const canView = can('recordings:view');
  const canWatch = can('sessions:watch-live');

  return (
    <section aria-labelledby="sessions-title">
      <div class="toolbar">
        <h2 id="sessions-title">Sessions</h2>
        <fieldset class="segmented">
          <legend class="visually-hidden">Session status</legend>
          {(Object.keys(TABS) as Tab[]).map((tab) => (
            <button
              type="button"
              key={tab}
              aria-pressed={status === tab}
              onClick={() => {
                setStatus(tab);
                setSessions(null);
              }}
            >
              {TABS[tab]}
            </button>
          ))}
        </fieldset>
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <p role="alert">{error}</p>}
      {sessions === null && !error && <p>Loading…</p>}
      {sessions?.length === 0 && <p>No {status === 'all' ? '' : `${TABS[status].toLowerCase()} `}sessions.</p>}
      {sessions && sessions.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>User</th>
              <th>Target</th>
              <th>Protocol</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Status</th>
              <th>Recording</th>
              {(canTerminate || canView || canWatch) && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id}>
                <td>{s.user}</td>
                <td>{s.target}</td>
                <td>{s.protocol}</td>
                <td class="nowrap">{dateTime(s.startedAt)}</td>
                <td>{duration(s.durationMs)}</td>
                <td>
                  {s.status}
                  {s.endReason ? ` (${s.endReason.replaceAll('_', ' ')})` : ''}
                </td>
                <td>{s.recording.status}</td>
                {(canTerminate || canView || canWatch) && (
                  <td class="actions">
                    {canWatch && s.status === 'active' && <a href={`#/sessions/${s.id}/live`}>Watch live</a>}
                    {canTerminate && s.status !== 'ended' && (
                      <button type="button" class="danger" onClick={() => setTerminating(s)}>
                        Terminate
                      </button>
                    )}
                    {canView && s.recording.url && s.format === 'asciicast' && (
                      // A terminal log plays in the terminal player (with its activity); it downloads as .cast.
                      <>
                        <a href={`#/sessions/${s.id}/recording`}>Watch recording</a>
                        <a href={`${s.recording.url}?download=1`}>Download .cast</a>
                      </>
                    )}
                    {canView && s.recording.url && s.format !== 'asciicast' && (
                      <>
                        <button type="button" onClick={() => setPlaying(s)}>
                          Watch recording
                        </button>
                        <a href={`#/sessions/${s.id}/recording`}>Player &amp; activity</a>
                        <a href={`${s.recording.url}?download=1`}>Download</a>
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {playing && <Player session={playing} onClose={() => setPlaying(null)} />}
      {terminating && (
        <TerminateDialog
          session={terminating}
          onClose={() => setTerminating(null)}
          onDone={(note) => {
            setTerminating(null);
            setNotice(note);
            setReloads((n) => n + 1);
          }}
        />
      )}
    </section>
  );
}
