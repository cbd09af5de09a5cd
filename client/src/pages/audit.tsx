/** The audit log: who did what, one sentence a row; filter, page back through older entries, export. */
import { useEffect, useState } from 'preact/hooks';
import { AUDIT_ACTIONS } from '../../../protocol/audit.ts';
import { auditSentence } from '../../../protocol/audit-sentence.ts';
import { type AuditEntry, api, call, describeFailure } from '../api.ts';
import { dateTime } from '../format.ts';

const PAGE_SIZE = 50;

interface Filters {
  q: string;
  actor: string;
  action: string;
  /** A session's id: its rows only. */
  session: string;
  /** `datetime-local` values, in the browser's time zone. */
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { q: '', actor: '', action: '', session: '', from: '', to: '' };

function query(filters: Filters, cursor: number | null): Record<string, string> {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filters.q.trim()) params.set('q', filters.q.trim());
  if (filters.actor.trim()) params.set('actor', filters.actor.trim());
  if (filters.action) params.set('action', filters.action);
  if (filters.session.trim()) params.set('session', filters.session.trim());
  if (filters.from) params.set('from', new Date(filters.from).toISOString());
  if (filters.to) params.set('to', new Date(filters.to).toISOString());
  if (cursor !== null) params.set('cursor', String(cursor));
  return Object.fromEntries(params);
}

/** The export of what the filters select (every page, not only the one shown). */
function exportUrl(filters: Filters, format: 'csv' | 'json'): string {
  const { limit: _limit, ...selected } = query(filters, null);
  return `/api/v1/audit/export?${new URLSearchParams({ ...selected, format })}`;
}

/** The row as a sentence: the actor filters the log by them, a session links to its recording. */
function Sentence({ entry, onActor }: { entry: AuditEntry; onActor: (name: string) => void }) {
  return (
    <>
      {auditSentence(entry).map((segment, i) => {
        if (typeof segment === 'string') return <span key={i}>{segment}</span>;
        if ('actor' in segment) {
          return (
            <button
              key={i}
              type="button"
              class="link"
              title={`Only ${segment.actor}'s entries`}
              onClick={() => onActor(segment.actor)}
            >
              {segment.actor}
            </button>
          );
        }
        return (
          <a key={i} href={`#/sessions/${encodeURIComponent(segment.session)}/recording`}>
            {segment.label}
          </a>
        );
      })}
    </>
  );
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  /** Cursors of the pages before this one; the last is this page's (null: the newest page). */
  const [cursors, setCursors] = useState<Array<number | null>>([null]);
  const [page, setPage] = useState<{ entries: AuditEntry[]; nextCursor: number | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = cursors.at(-1) ?? null;

  useEffect(() => {
    let current = true;
    call(api.audit.$get({ query: query(filters, cursor) }))
      .then((reply) => {
        if (!current) return;
        setPage(reply);
        setError(null);
      })
      .catch((e: unknown) => current && setError(describeFailure(e)));
    return () => {
      current = false;
    };
  }, [filters, cursor]);

  const field = (name: keyof Filters) => ({
    value: draft[name],
    onInput: (e: Event) =>
      setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value }),
  });

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <search>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilters(draft);
            setCursors([null]);
          }}
        >
          <label>
            Search
            <input type="search" placeholder="actor, action, target, details, address" {...field('q')} />
          </label>
          <label>
            Actor
            <input placeholder="username or key name" {...field('actor')} />
          </label>
          <label>
            Session
            <input placeholder="session id" {...field('session')} />
          </label>
          <label>
            Action
            <select {...field('action')}>
              <option value="">Any action</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="datetime-local" {...field('from')} />
          </label>
          <label>
            To
            <input type="datetime-local" {...field('to')} />
          </label>
          <button type="submit" class="primary">
            Search
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
              setCursors([null]);
            }}
          >
            Clear
          </button>
          {/* The rows the search shows, every page of them (the export is itself audited). */}
          <a class="button" href={exportUrl(filters, 'csv')} download>
            Export CSV
          </a>
          <a class="button" href={exportUrl(filters, 'json')} download>
            Export JSON
          </a>
        </form>
      </search>
      {error && <p role="alert">{error}</p>}
      {page === null && !error && <p>Loading…</p>}
      {page?.entries.length === 0 && <p>No audit entries match.</p>}
      {page && page.entries.length > 0 && (
        <table class="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>What happened</th>
              <th>Address</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {page.entries.map((entry) => (
              <tr key={entry.id}>
                <td class="nowrap">{dateTime(entry.at)}</td>
                <td class="wrap">
                  <Sentence
                    entry={entry}
                    onActor={(actor) => {
                      const next = { ...NO_FILTERS, actor };
                      setDraft(next);
                      setFilters(next);
                      setCursors([null]);
                    }}
                  />
                  <span class="muted">
                    {' '}
                    ({entry.actorKind}, {entry.action})
                  </span>
                </td>
                <td class="nowrap" title={entry.userAgent ?? undefined}>
                  {entry.ip ?? '—'}
                </td>
                <td>
                  {entry.details !== null && (
                    <details>
                      <summary>Details</summary>
                      <pre class="wrap">{JSON.stringify(entry.details, null, 2)}</pre>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Audit log pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}
        >
          Older
        </button>
      </nav>
    </section>
  );
}
