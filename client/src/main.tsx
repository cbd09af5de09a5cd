/**
 * A minimal console: list sessions, terminate active ones, play finished recordings.
 * Everything recorded is rendered as text (Preact escapes it), never as HTML.
 */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, type SessionSummary, storeApiKey, storedApiKey } from './api.ts';
import './style.css';

function duration(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function KeyForm({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState(storedApiKey());
  return (
    <form
      class="key"
      onSubmit={(e) => {
        e.preventDefault();
        storeApiKey(key);
        onKey(key);
      }}
    >
      <label>
        API key <input type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
      </label>
      <button type="submit">Use key</button>
    </form>
  );
}

function Player({ session, onClose }: { session: SessionSummary; onClose: () => void }) {
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let url: string | null = null;
    call<Blob>(`/sessions/${session.id}/recording.webm`)
      .then((blob) => {
        url = URL.createObjectURL(blob);
        setSrc(url);
      })
      .catch((e: Error) => setError(e.message));
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [session.id]);
  return (
    <section class="player" aria-label="Recording">
      <h2>
        {session.user} → {session.target}
      </h2>
      {error && <p role="alert">{error}</p>}
      {!src && !error && <p>Loading recording…</p>}
      {/* biome-ignore lint/a11y/useMediaCaption: screen recordings have no audio track to caption */}
      {src && <video controls src={src} />}
      <button type="button" onClick={onClose}>
        Close
      </button>
    </section>
  );
}

function App() {
  const [apiKey, setApiKey] = useState(storedApiKey());
  const [status, setStatus] = useState<'active' | 'ended'>('active');
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [playing, setPlaying] = useState<SessionSummary | null>(null);

  const refresh = useCallback(() => {
    if (!apiKey) return;
    call<{ sessions: SessionSummary[] }>(`/sessions?status=${status}`)
      .then((r) => {
        setSessions(r.sessions);
        setError(null);
      })
      .catch((e: Error) => setError(e.message));
  }, [apiKey, status]);

  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, 5000);
    return () => clearInterval(timer);
  }, [refresh]);

  const terminate = async (s: SessionSummary) => {
    const message = prompt(`Terminate ${s.user}'s session on ${s.target}? Message to show:`, '');
    if (message === null) return;
    await call(`/sessions/${s.id}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message }),
    }).catch((e: Error) => setError(e.message));
    refresh();
  };

  return (
    <main>
      <header>
        <h1>Witness</h1>
        <KeyForm onKey={setApiKey} />
      </header>
      <nav aria-label="Session status">
        {(['active', 'ended'] as const).map((s) => (
          <button type="button" key={s} aria-pressed={status === s} onClick={() => setStatus(s)}>
            {s === 'active' ? 'Active' : 'Ended'}
          </button>
        ))}
      </nav>
      {error && <p role="alert">{error}</p>}
      {sessions === null && !error && <p>{apiKey ? 'Loading…' : 'Enter an API key to see sessions.'}</p>}
      {sessions?.length === 0 && <p>No {status} sessions.</p>}
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
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id}>
                <td>{s.user}</td>
                <td>{s.target}</td>
                <td>{s.protocol}</td>
                <td>{s.startedAt ? new Date(s.startedAt).toLocaleString() : '—'}</td>
                <td>{duration(s.durationMs)}</td>
                <td>
                  {s.status}
                  {s.endReason ? ` (${s.endReason.replaceAll('_', ' ')})` : ''}
                </td>
                <td>{s.recording.status}</td>
                <td>
                  {s.status !== 'ended' && (
                    <button type="button" onClick={() => terminate(s)}>
                      Terminate
                    </button>
                  )}
                  {s.recording.url && (
                    <button type="button" onClick={() => setPlaying(s)}>
                      Watch recording
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {playing && <Player session={playing} onClose={() => setPlaying(null)} />}
    </main>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
