/**
 * The Sessions page's filters: what they are, how they read and write the address (`#/sessions?q=…`, so a
 * search can be bookmarked and survives a reload), the query they make for `GET /api/v1/sessions`, and the
 * sidebar that edits them.
 */
import type { SearchIn } from '../../../protocol/activity.ts';

/** The list's tabs; pending sessions were launched and wait for their launcher to connect. */
export const TABS = { active: 'Active', pending: 'Pending', ended: 'Ended', all: 'All' } as const;
export type Tab = keyof typeof TABS;

/** Where a text query looks, in the order the sidebar offers them. */
export const SEARCH_IN_LABELS: Record<SearchIn, string> = {
  keystrokes: 'Keystrokes',
  ssh: 'SSH client data',
  apps: 'Application names',
  processes: 'Process names',
  windows: 'Window titles',
};
const ALL_IN = Object.keys(SEARCH_IN_LABELS) as SearchIn[];

export interface Filters {
  status: Tab;
  /** Text searched in the sessions' activity; empty lists sessions without searching. */
  q: string;
  in: SearchIn[];
  user: string;
  target: string;
  /** `datetime-local` values, in the browser's time zone (ISO in the address and the API). */
  from: string;
  to: string;
  /** Sessions a page; only from the address (`limit=`), else the API's default. */
  limit: number | null;
}

export const NO_FILTERS: Filters = {
  status: 'active',
  q: '',
  in: ALL_IN,
  user: '',
  target: '',
  from: '',
  to: '',
  limit: null,
};

/** A `datetime-local` value for an ISO time, in this browser's time zone; '' when it is not a time. */
function localInput(iso: string | null): string {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) return '';
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function isoOf(local: string): string | null {
  const ms = local ? new Date(local).getTime() : Number.NaN;
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The filters in an address's hash (`#/sessions?status=ended&q=…`); anything unreadable is left at its default. */
export function filtersFromHash(hash: string): Filters {
  const query = hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '';
  const p = new URLSearchParams(query);
  const status = p.get('status');
  const within = p
    .get('in')
    ?.split(',')
    .filter((v): v is SearchIn => (ALL_IN as string[]).includes(v));
  const limit = Number(p.get('limit'));
  return {
    status: status && status in TABS ? (status as Tab) : NO_FILTERS.status,
    q: p.get('q') ?? '',
    // An `in` naming nothing known searches everywhere rather than nowhere.
    in: within && within.length > 0 ? ALL_IN.filter((v) => within.includes(v)) : ALL_IN,
    user: p.get('user') ?? '',
    target: p.get('target') ?? '',
    from: localInput(p.get('from')),
    to: localInput(p.get('to')),
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 200 ? limit : null,
  };
}

/** The filters the address and the API spell alike: user, target, time range and page size. */
function setNarrowing(p: URLSearchParams, f: Filters): void {
  if (f.user.trim()) p.set('user', f.user.trim());
  if (f.target.trim()) p.set('target', f.target.trim());
  const from = isoOf(f.from);
  const to = isoOf(f.to);
  if (from) p.set('from', from);
  if (to) p.set('to', to);
  if (f.limit !== null) p.set('limit', String(f.limit));
}

/** The address for these filters: defaults are left out, so the plain list is plain `#/sessions`. */
export function hashOf(f: Filters): string {
  const p = new URLSearchParams();
  if (f.status !== NO_FILTERS.status) p.set('status', f.status);
  if (f.q.trim()) p.set('q', f.q.trim());
  if (f.in.length !== ALL_IN.length) p.set('in', f.in.join(','));
  setNarrowing(p, f);
  const query = p.toString();
  return query ? `#/sessions?${query}` : '#/sessions';
}

/** Where this tab keeps the list's address, for "Back to sessions" (per tab, so two searches don't mix). */
const LIST_ADDRESS_KEY = 'witness.sessions.address';

/** The list's address, filters and all, as the Sessions page last showed it in this tab. */
export function rememberListAddress(hash: string): void {
  try {
    sessionStorage.setItem(LIST_ADDRESS_KEY, hash);
  } catch {
    // Storage off (a private window's settings): "Back to sessions" opens the list unfiltered.
  }
}

/** The list as this tab last showed it, so going back from a session keeps its search and filters. */
export function BackToSessions() {
  let hash = '#/sessions';
  try {
    const kept = sessionStorage.getItem(LIST_ADDRESS_KEY);
    if (kept && /^#\/sessions(\?|$)/.test(kept)) hash = kept;
  } catch {
    // As above: the unfiltered list.
  }
  return <a href={hash}>Back to sessions</a>;
}

/** Why these filters cannot be asked for, or null. */
export function filtersProblem(f: Filters): string | null {
  if (f.q.trim() && f.in.length === 0) return 'Choose at least one place to search in.';
  const from = isoOf(f.from);
  const to = isoOf(f.to);
  if (from && to && from > to) return 'The “From” time is after the “To” time.';
  return null;
}

/** `GET /api/v1/sessions`'s query for these filters and a page's cursor. */
export function listQuery(f: Filters, cursor: string | null): Record<string, string> {
  const p = new URLSearchParams();
  if (f.status !== 'all') p.set('status', f.status);
  if (f.q.trim()) {
    p.set('q', f.q.trim());
    if (f.in.length !== ALL_IN.length) p.set('in', f.in.join(','));
  }
  setNarrowing(p, f);
  if (cursor) p.set('cursor', cursor);
  return Object.fromEntries(p);
}

/** Whether any filter other than the tab narrows the list. */
export function isFiltered(f: Filters): boolean {
  return Boolean(f.q.trim() || f.user.trim() || f.target.trim() || f.from || f.to);
}

/** Fields typed into (debounced) rather than clicked (applied at once). */
export type TextField = 'q' | 'user' | 'target';

/**
 * The filter sidebar. `onChange` gets the new filters and whether the change was typing (the page waits for
 * a pause before asking); submitting the form (Enter) asks at once.
 */
export function FilterSidebar({
  filters,
  onChange,
  onSubmit,
  onClear,
}: {
  filters: Filters;
  onChange: (next: Filters, typing: boolean) => void;
  onSubmit: () => void;
  onClear: () => void;
}) {
  const text = (name: TextField) => ({
    id: `session-filter-${name}`,
    value: filters[name],
    onInput: (e: Event) => onChange({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value }, true),
  });
  const date = (name: 'from' | 'to') => ({
    value: filters[name],
    onChange: (e: Event) => onChange({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value }, false),
  });
  const searching = filters.q.trim() !== '';

  return (
    <search class="session-filters">
      <form
        aria-label="Filter sessions"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        <label>
          Search activity
          <input type="search" placeholder="typed text, command, program, window" {...text('q')} />
        </label>
        <fieldset>
          <legend>Search in</legend>
          {(Object.keys(SEARCH_IN_LABELS) as SearchIn[]).map((where) => (
            <label class="inline" key={where}>
              <input
                type="checkbox"
                checked={filters.in.includes(where)}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  const within = Object.keys(SEARCH_IN_LABELS).filter((w) =>
                    w === where ? on : filters.in.includes(w as SearchIn),
                  ) as SearchIn[];
                  onChange({ ...filters, in: within }, false);
                }}
              />
              {SEARCH_IN_LABELS[where]}
            </label>
          ))}
          {!searching && <p class="muted hint">Applies to a text search.</p>}
        </fieldset>
        <label>
          User
          <input autoComplete="off" placeholder="exact user name" {...text('user')} />
        </label>
        <label>
          Target
          <input autoComplete="off" placeholder="exact target" {...text('target')} />
        </label>
        <label>
          From
          <input type="datetime-local" {...date('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" {...date('to')} />
        </label>
        <div class="filter-buttons">
          <button type="submit" class="primary">
            Apply
          </button>
          <button type="button" onClick={onClear}>
            Clear filters
          </button>
        </div>
      </form>
    </search>
  );
}
