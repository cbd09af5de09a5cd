/**
 * Session Monitoring: active, pending and ended sessions with a filter sidebar (text search in the sessions'
 * activity, user, target, dates), search matches that open the recording at their moment, paging by cursor,
 * and terminate and recording playback for those allowed to. The filters live in the address.
 *
 * Every 5 s the first page is asked for again (never the further pages the user loaded): with one page shown
 * it replaces the list; with more, its rows update in place and new sessions are added on top, while the rows
 * of later pages stay as they were when loaded.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, call, describeFailure, type Permission, type SessionSummary } from '../api.ts';
import { clock, dateTime, duration } from '../format.ts';
import { HoldDialog } from '../hold-dialog.tsx';
import { ProcessingActions, ProcessingBadge, RetryFailedButton } from '../processing.tsx';
import { mediaDeleted, RetentionBadge } from '../retention-badge.tsx';
import { TerminateDialog } from '../terminate-dialog.tsx';
import {
  FilterSidebar,
  type Filters,
  filtersFromHash,
  filtersProblem,
  hashOf,
  isFiltered,
  listQuery,
  NO_FILTERS,
  rememberListAddress,
  TABS,
  type Tab,
} from './session-filters.tsx';

const REFRESH_MS = 5000;
/** Typing waits this long for a pause before the list is asked for. */
const DEBOUNCE_MS = 300;

interface Match {
  type: string;
  offsetMs: number;
  /** The matched words are in `[` `]`. */
  snippet: string;
}
type Row = SessionSummary & { matches?: Match[] };

interface Listing {
  /** The query (filters) these rows answer. */
  key: string;
  rows: Row[];
  nextCursor: string | null;
  pages: number;
}

const MATCH_TYPES: Record<string, string> = {
  keys: 'Keystrokes',
  'ssh.input': 'SSH input',
  'ssh.command': 'SSH command',
  'file.transfer': 'File transfer',
  'window.focus': 'Window',
  'process.start': 'Process started',
  'process.stop': 'Process stopped',
};

const RECORDING_BADGES: Record<string, { text: string; title: string }> = {
  recording: { text: 'Recording', title: 'Being recorded now' },
  finalizing: { text: 'Finalizing', title: 'The recording is being sealed' },
  ready: { text: 'Ready', title: 'The recording can be watched and downloaded' },
  disabled: { text: 'Off', title: 'Recording was turned off for this session' },
  empty: { text: 'Empty', title: 'Nothing was recorded' },
  failed: { text: 'Failed', title: 'The recording failed' },
  waiting: { text: 'Waiting', title: 'Recording starts when the launcher connects' },
};

function RecordingBadge({ session }: { session: SessionSummary }) {
  // A pending session's recording is `recording` already, but nothing is recorded until its launcher connects.
  const status = session.status === 'pending' ? 'waiting' : session.recording.status;
  const badge = RECORDING_BADGES[status] ?? { text: status, title: status };
  return (
    <span class={`badge rec rec-${status}`} title={badge.title}>
      {badge.text}
    </span>
  );
}

/** A snippet as text, its matched words (between `[` `]`) marked. Never HTML: recorded text is hostile. */
function Snippet({ text }: { text: string }) {
  const parts = text.split(/\[([^[\]]*)\]/);
  return <span class="snippet">{parts.map((part, i) => (i % 2 === 1 ? <mark key={i}>{part}</mark> : part))}</span>;
}

function Matches({ session, canView }: { session: Row; canView: boolean }) {
  const link = canView && session.recording.url !== null;
  return (
    <ul class="matches" aria-label="Search matches">
      {(session.matches ?? []).map((m, i) => {
        const body = (
          <>
            <span class="match-type">{MATCH_TYPES[m.type] ?? m.type}</span>
            <span class="match-at">{clock(m.offsetMs, true)}</span>
            <Snippet text={m.snippet} />
          </>
        );
        return (
          <li key={i}>
            {link ? <a href={`#/sessions/${session.id}/recording?at=${Math.round(m.offsetMs)}`}>{body}</a> : body}
          </li>
        );
      })}
    </ul>
  );
}

/** Rows from a refreshed first page over the rows shown: replaced when one page is shown, else merged. */
function refreshed(previous: Listing | null, key: string, reply: { sessions: Row[]; nextCursor: string | null }) {
  if (!previous || previous.key !== key || previous.pages <= 1) {
    return { key, rows: reply.sessions, nextCursor: reply.nextCursor, pages: 1 };
  }
  const fresh = new Map(reply.sessions.map((s) => [s.id, s]));
  const added = reply.sessions.filter((s) => !previous.rows.some((r) => r.id === s.id));
  return { ...previous, rows: [...added, ...previous.rows.map((r) => fresh.get(r.id) ?? r)] };
}

export function SessionsPage({ can }: { can: (permission: Permission) => boolean }) {
  /** What the sidebar shows, as typed. */
  const [draft, setDraft] = useState<Filters>(() => filtersFromHash(location.hash));
  /** What the list answers: the draft, once typing pauses. */
  const [filters, setFilters] = useState<Filters>(draft);
  const [listing, setListing] = useState<Listing | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [terminating, setTerminating] = useState<SessionSummary | null>(null);
  const [holding, setHolding] = useState<SessionSummary | null>(null);
  /** Bumped to reload at once (after a terminate) instead of at the next poll. */
  const [reloads, setReloads] = useState(0);
  const typing = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const key = JSON.stringify(listQuery(filters, null));
  const problem = filtersProblem(filters);
  const keyNow = useRef(key);
  keyNow.current = key;

  const apply = (next: Filters) => {
    clearTimeout(typing.current);
    setDraft(next);
    setFilters(next);
  };
  const change = (next: Filters, typed: boolean) => {
    setDraft(next);
    clearTimeout(typing.current);
    if (typed) typing.current = setTimeout(() => setFilters(next), DEBOUNCE_MS);
    else setFilters(next);
  };
  useEffect(() => () => clearTimeout(typing.current), []);

  // The address follows the filters (replaced, not pushed: typing is not history); an address typed or
  // opened from a bookmark sets them. Both are set up as the page renders (layout effects): an effect waits
  // for the next frame, and an address opened before it (just after sign-in) was missed, then overwritten.
  // The listener stays for the page's life: one removed and added again while the console re-renders for
  // the same `hashchange` is not called for it.
  const filtersNow = useRef(filters);
  filtersNow.current = filters;
  useLayoutEffect(() => {
    const onSessions = location.hash === '' || location.hash.startsWith('#/sessions');
    if (onSessions && location.hash !== hashOf(filters)) history.replaceState(null, '', hashOf(filters));
    rememberListAddress(hashOf(filters));
  }, [filters]);
  useLayoutEffect(() => {
    const onHash = () => {
      if (!location.hash.startsWith('#/sessions') || /^#\/sessions\/[^?]/.test(location.hash)) return;
      const next = filtersFromHash(location.hash);
      if (hashOf(next) !== hashOf(filtersNow.current)) apply(next);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (problem) {
      setListing(null);
      setLoading(false);
      return;
    }
    let current = true;
    const load = () =>
      call(api.sessions.$get({ query: listQuery(filters, null) }))
        .then((reply) => {
          if (!current) return;
          setListing((previous) => refreshed(previous, key, reply as { sessions: Row[]; nextCursor: string | null }));
          setError(null);
        })
        .catch((e: unknown) => current && setError(describeFailure(e)))
        .finally(() => current && setLoading(false));
    setLoading(true);
    load();
    const timer = setInterval(() => {
      if (!document.hidden) load();
    }, REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [key, reloads, problem]);

  const loadMore = () => {
    const from = listing;
    if (!from?.nextCursor) return;
    setLoadingMore(true);
    call(api.sessions.$get({ query: listQuery(filters, from.nextCursor) }))
      .then((reply) => {
        if (keyNow.current !== from.key) return;
        const page = reply as { sessions: Row[]; nextCursor: string | null };
        setListing((previous) => {
          if (!previous || previous.key !== from.key) return previous;
          const shown = new Set(previous.rows.map((r) => r.id));
          return {
            ...previous,
            rows: [...previous.rows, ...page.sessions.filter((s) => !shown.has(s.id))],
            nextCursor: page.nextCursor,
            pages: previous.pages + 1,
          };
        });
        setError(null);
      })
      .catch((e: unknown) => setError(describeFailure(e)))
      .finally(() => setLoadingMore(false));
  };

  const canTerminate = can('sessions:terminate');
  const canView = can('recordings:view');
  const canWatch = can('sessions:watch-live');
  const canHold = can('recording:administer');
  const hasActions = canTerminate || canView || canWatch || canHold;
  const columns = hasActions ? 8 : 7;
  const searching = filters.q.trim() !== '';
  /** Rows answering other filters than the ones asked for now are shown dimmed until the answer comes. */
  const stale = listing !== null && listing.key !== key;
  const rows = listing?.rows ?? null;
  const what = filters.status === 'all' ? 'sessions' : `${TABS[filters.status].toLowerCase()} sessions`;

  let summary = '';
  if (problem) summary = '';
  else if (loading || stale) summary = searching ? 'Searching…' : 'Loading…';
  else if (rows)
    summary = `${rows.length}${listing?.nextCursor ? '+' : ''} ${rows.length === 1 && !listing?.nextCursor ? what.replace(/s$/, '') : what}${searching ? ` matching “${filters.q.trim()}”` : ''} shown.`;

  return (
    <section aria-labelledby="sessions-title" class="sessions-page">
      <div class="toolbar">
        <h2 id="sessions-title">Sessions</h2>
        <fieldset class="segmented">
          <legend class="visually-hidden">Session status</legend>
          {(Object.keys(TABS) as Tab[]).map((tab) => (
            <button
              type="button"
              key={tab}
              aria-pressed={draft.status === tab}
              onClick={() => apply({ ...draft, status: tab })}
            >
              {TABS[tab]}
            </button>
          ))}
        </fieldset>
        <p class="muted list-summary" aria-live="polite">
          {summary}
        </p>
        {can('recording:administer') && (
          <RetryFailedButton
            onDone={(retried) => {
              setNotice(retried === 0 ? 'No MP4 had failed.' : `${retried} failed MP4(s) queued again.`);
              setReloads((n) => n + 1);
            }}
          />
        )}
      </div>
      <div class="sessions-layout">
        <FilterSidebar
          filters={draft}
          onChange={change}
          onSubmit={() => apply(draft)}
          onClear={() => apply({ ...NO_FILTERS, status: draft.status, limit: draft.limit })}
        />
        <div class="sessions-results" aria-busy={loading || stale}>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          {problem && <p class="warning">{problem}</p>}
          {error && <p role="alert">{error}</p>}
          {!problem && rows === null && !error && <p>Loading…</p>}
          {!problem && rows?.length === 0 && !stale && (
            <p class="empty">
              {searching
                ? `No ${what} match “${filters.q.trim()}”${isFiltered({ ...filters, q: '' }) ? ' with these filters' : ''}.`
                : isFiltered(filters)
                  ? `No ${what} match these filters.`
                  : `No ${what}.`}
            </p>
          )}
          {!problem && rows && rows.length > 0 && (
            <table class={stale ? 'sessions stale' : 'sessions'}>
              <thead>
                <tr>
                  <th>User</th>
                  <th>Target</th>
                  <th>Protocol</th>
                  <th>Started</th>
                  <th>Duration</th>
                  <th>Status</th>
                  <th>Recording</th>
                  {hasActions && <th>Actions</th>}
                </tr>
              </thead>
              {rows.map((s) => (
                <tbody key={s.id}>
                  <tr>
                    <td class="wrap-anywhere">
                      {/* The session's page: its facts, live state and evidence. */}
                      <a href={`#/sessions/${s.id}`} title="The session's page: facts and evidence">
                        {s.user}
                      </a>
                    </td>
                    <td class="wrap-anywhere">{s.target}</td>
                    <td>
                      {s.protocol}
                      {s.origin === 'agent' && (
                        <>
                          {' '}
                          <span
                            class="badge agent"
                            title="Recorded by witness-agent on the host: a login nobody launched through Witness"
                          >
                            recorded by agent (not launched)
                          </span>
                        </>
                      )}
                    </td>
                    <td class="nowrap">{dateTime(s.startedAt)}</td>
                    <td>{duration(s.durationMs)}</td>
                    <td>
                      {s.status}
                      {s.endReason ? ` (${s.endReason.replaceAll('_', ' ')})` : ''}
                    </td>
                    <td>
                      {/* Once retention deleted the media, its notice replaces the status it was sealed with. */}
                      {!mediaDeleted(s.retention) && <RecordingBadge session={s} />}{' '}
                      <RetentionBadge retention={s.retention} />
                      {s.recording.status === 'failed' && s.recording.error && (
                        <span class="mp4-cause"> {s.recording.error}</span>
                      )}{' '}
                      <ProcessingBadge processing={s.processing} />
                    </td>
                    {hasActions && (
                      <td class="actions">
                        {canWatch && s.status === 'active' && <a href={`#/sessions/${s.id}/live`}>Watch live</a>}
                        {canHold && !mediaDeleted(s.retention) && (
                          <button type="button" onClick={() => setHolding(s)}>
                            {s.retention.hold ? 'Release hold' : 'Legal hold'}
                          </button>
                        )}
                        {canTerminate && s.status !== 'ended' && (
                          <button type="button" class="danger" onClick={() => setTerminating(s)}>
                            Terminate
                          </button>
                        )}
                        {/* One action per intent, the same for every kind of session: the one Watch page plays it. */}
                        {canView && s.recording.url && (
                          <>
                            <a href={`#/sessions/${s.id}/recording`}>Watch recording</a>
                            <a href={`${s.recording.url}?download=1`}>
                              {s.format === 'asciicast' ? 'Download .cast' : 'Download'}
                            </a>
                          </>
                        )}
                        {canView && s.recording.url && s.format !== 'asciicast' && (
                          <ProcessingActions
                            sessionId={s.id}
                            processing={s.processing}
                            onChanged={() => setReloads((n) => n + 1)}
                          />
                        )}
                      </td>
                    )}
                  </tr>
                  {s.matches && s.matches.length > 0 && (
                    <tr class="match-row">
                      <td colSpan={columns}>
                        <Matches session={s} canView={canView} />
                      </td>
                    </tr>
                  )}
                </tbody>
              ))}
            </table>
          )}
          {!problem && !stale && listing?.nextCursor && (
            <div class="pager">
              <button type="button" onClick={loadMore} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more sessions'}
              </button>
            </div>
          )}
        </div>
      </div>
      {holding && (
        <HoldDialog
          session={holding}
          onClose={() => setHolding(null)}
          onDone={(note) => {
            setHolding(null);
            setNotice(note);
            setReloads((n) => n + 1);
          }}
        />
      )}
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
