/**
 * Watch Recording (`recordings:view`): the recorded player with its timeline, the activity map under it, and
 * beside it the session's activity (grid, details, search within the session). Loaded on first use. SSH
 * sessions use the same parts around a terminal (client/src/terminal/recording-page.tsx).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type ActivityItem, type Density, TYPE_LABELS, typeCounts } from '../activity.ts';
import type { ActivityType } from '../../../protocol/activity.ts';
import { activityDensity, activityPage, describeFailure, type SessionDetail } from '../api.ts';
import type { PlayerCore } from '../player/core.ts';
import { type IdleStretch, idleStretches } from '../player/idle.ts';
import { recordedDriver } from '../player/recorded.ts';
import { usePlayerCore, usePlayerEvent } from '../player/use-player.ts';
import { ActivityGrid, EventDetails } from './activity-grid.tsx';
import { ActivityMap } from './activity-map.tsx';
import { lanesFor } from './draw-activity-map.ts';
import { AtPlayheadFacts } from './at-playhead.tsx';
import { PlayerFrame } from '../player/frame.tsx';
import { Controls, SHORTCUTS_HELP, useShortcuts, ZOOM_HELP } from './controls.tsx';
import { type RecordedPlayerProps, RecordingPage } from './watch-page.tsx';

/** Events in the first request to the activity list: the grid shows them while the rest load. */
const FIRST_PAGE = 500;
/** Events per request after the first, until the session's events are all loaded (the API's most). */
const PAGE_SIZE = 5000;
/** Search within the session lists at most this many matches. */
const MATCH_LIMIT = 500;

/** `?at=ms` in the address (`#/sessions/{id}/recording?at=75000`, as a search match links): where to start. */
function startAtMs(): number | null {
  const at = new URLSearchParams(location.hash.split('?')[1] ?? '').get('at');
  return at !== null && /^\d{1,12}$/.test(at) ? Number(at) : null;
}

/** The window in focus when `event` happened, from the events loaded so far (they are in time order). */
function windowAt(events: readonly ActivityItem[], event: ActivityItem): ActivityItem | null {
  let found: ActivityItem | null = null;
  for (const candidate of events) {
    if (candidate.offsetMs > event.offsetMs) break;
    if (candidate.type === 'window.focus') found = candidate;
  }
  return found;
}

function RecordingPlayer({ session, url, sessionId }: RecordedPlayerProps) {
  const video = useRef<HTMLVideoElement>(null);
  const core = usePlayerCore(video, () => recordedDriver(url));
  return (
    <PlayerWithActivity
      core={core}
      session={session}
      sessionId={sessionId}
      kind="desktop"
      screen={
        <video
          ref={video}
          class="player-video"
          muted
          playsInline
          preload="auto"
          aria-label="Screen recording"
          onClick={() => core?.togglePlay()}
        />
      }
    />
  );
}

/**
 * A recorded session's screen (a video, or an SSH session's terminal) with the player's controls, the
 * activity map, and beside them the activity grid and search within the session.
 */
export function PlayerWithActivity({
  core,
  session,
  sessionId,
  kind,
  screen,
  tools,
  idle,
  children,
}: {
  core: PlayerCore | null;
  session: SessionDetail | null;
  sessionId: string;
  /** A desktop's screen (a video: zoom and pan) or a terminal (sized to its columns). */
  kind: 'desktop' | 'terminal';
  /** The element the core plays: rendered first, before the core exists. */
  screen: ComponentChildren;
  /** More tools in the controls' row (a terminal's Fit / 1:1). */
  tools?: ComponentChildren;
  /** Quiet stretches for skip inactivity; when not given, they come from the activity map's data. */
  idle?: readonly IdleStretch[];
  /** Shown under the activity map. */
  children?: ComponentChildren;
}) {
  const mapHost = useRef<HTMLDivElement>(null);
  useShortcuts(core);
  const duration = usePlayerEvent(core, 'duration');
  const mediaMs = duration?.durationMs ?? core?.state.durationMs ?? null;
  /** Where the address asks the player to be, until it has moved there. */
  const [asked, setAsked] = useState(() => startAtMs());

  // An address for another moment of this recording (a link followed or pasted while it plays) asks again;
  // the page stays, so the listener is set up as it renders and kept for its life.
  useLayoutEffect(() => {
    const onHash = () => {
      if (location.hash.startsWith(`#/sessions/${sessionId}/recording?`)) setAsked(startAtMs());
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, [sessionId]);

  // Once the media's length is known, move to where the address asked.
  useEffect(() => {
    if (!core || mediaMs === null || asked === null) return;
    core.seek(asked);
    setAsked(null);
  }, [core, mediaMs, asked]);

  const [density, setDensity] = useState<Density | null>(null);
  const [events, setEvents] = useState<ActivityItem[]>([]);
  const [loading, setLoading] = useState(true);
  /** Types the type filter hides. */
  const [hidden, setHidden] = useState<ReadonlySet<ActivityType>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<ActivityItem | null>(null);
  const [query, setQuery] = useState('');
  const [matches, setMatches] = useState<{ q: string; events: ActivityItem[]; more: boolean } | null>(null);

  // Every event, page after page: the grid follows the playhead, the filter counts and the map's tooltip
  // summarise over all of them. The first page is small, so the grid shows something at once.
  useEffect(() => {
    let current = true;
    const load = async () => {
      let loaded: ActivityItem[] = [];
      let cursor: string | null = null;
      do {
        const page = await activityPage(sessionId, { cursor, limit: cursor ? PAGE_SIZE : FIRST_PAGE });
        if (!current) return;
        loaded = [...loaded, ...page.events];
        cursor = page.nextCursor;
        setEvents(loaded);
      } while (cursor);
    };
    setLoading(true);
    load()
      .catch((e: unknown) => current && setError(describeFailure(e)))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [sessionId]);

  useEffect(() => {
    // One bucket per CSS pixel of the map: its cost is the map's width, however many events there are.
    const buckets = Math.max(1, Math.min(5000, Math.round(mapHost.current?.clientWidth ?? 700)));
    activityDensity(sessionId, buckets).then(setDensity, (e: unknown) => setError(describeFailure(e)));
  }, [sessionId]);

  const spanMs = Math.max(
    1,
    duration?.durationMs ?? core?.state.durationMs ?? session?.recording.mediaDurationMs ?? density?.durationMs ?? 1,
  );

  useEffect(() => {
    if (core && idle) core.setIdleStretches(idle);
    else if (core && density) core.setIdleStretches(idleStretches(density.buckets, density.bucketMs, spanMs));
  }, [core, idle, density, spanMs]);

  const select = (event: ActivityItem) => {
    setSelected(event);
    core?.seek(event.offsetMs);
  };

  const search = (e: Event) => {
    e.preventDefault();
    const q = query.trim();
    if (!q) return setMatches(null);
    activityPage(sessionId, { q, limit: MATCH_LIMIT }).then(
      (page) => setMatches({ q, events: page.events, more: page.nextCursor !== null }),
      (failure: unknown) => setError(describeFailure(failure)),
    );
  };

  const matchEvents = useMemo(() => matches?.events ?? [], [matches]);
  const kinds = useMemo(() => typeCounts(matches?.events ?? events), [matches, events]);
  const rows = useMemo(() => {
    const listed = matches?.events ?? events;
    return hidden.size === 0 ? listed : listed.filter((event) => !hidden.has(event.type));
  }, [matches, events, hidden]);
  const toggleType = (type: ActivityType) => {
    const next = new Set(hidden);
    if (!next.delete(type)) next.add(type);
    setHidden(next);
  };

  return (
    <div class="watch-body">
      <div class="watch-main">
        <PlayerFrame
          label={kind === 'terminal' ? 'Terminal player' : 'Screen player'}
          zoomable={kind === 'desktop'}
          screen={screen}
          overlay={core && <AtPlayheadFacts core={core} events={events} />}
          tools={tools}
          controls={(frameTools) => core && <Controls core={core} spanMs={spanMs} tools={frameTools} />}
        />
        <div ref={mapHost}>
          {core && density ? (
            <ActivityMap
              core={core}
              density={density}
              spanMs={spanMs}
              matches={matchEvents}
              lanes={lanesFor(kind)}
              events={events}
              complete={!loading}
            />
          ) : (
            <p class="muted">Loading the activity map…</p>
          )}
        </div>
        {children}
        <p class="muted help">
          {SHORTCUTS_HELP}
          {kind === 'desktop' ? ZOOM_HELP : ''}
        </p>
      </div>

      <aside class="watch-side" aria-label="Activity in this session">
        <search>
          <form class="session-search" onSubmit={search}>
            <label class="grow">
              Search within the session
              <input
                type="search"
                placeholder="typed text, program, window title"
                value={query}
                onInput={(e) => setQuery(e.currentTarget.value)}
              />
            </label>
            <button type="submit">Search</button>
            {matches && (
              <button
                type="button"
                onClick={() => {
                  setMatches(null);
                  setQuery('');
                }}
              >
                Clear
              </button>
            )}
          </form>
        </search>
        <p class="muted" role="status">
          {matches
            ? `${matches.events.length}${matches.more ? '+' : ''} ${matches.events.length === 1 ? 'match' : 'matches'} for “${matches.q}”, marked on the activity map.`
            : ''}
        </p>
        {error && <p role="alert">{error}</p>}
        {kinds.length > 0 && (
          <ul class="type-chips" aria-label="Show events of type">
            {kinds.map(({ type, count }) => (
              <li key={type}>
                <button type="button" aria-pressed={!hidden.has(type)} onClick={() => toggleType(type)}>
                  {TYPE_LABELS[type]} {count.toLocaleString('en')}
                </button>
              </li>
            ))}
          </ul>
        )}
        <ActivityGrid
          core={core}
          events={rows}
          selectedId={selected?.id ?? null}
          onSelect={select}
          label={matches ? 'Matches' : 'Activity'}
        >
          {!matches && !loading && events.length === 0 && (
            <p class="muted">No activity was recorded in this session.</p>
          )}
        </ActivityGrid>
        {loading && (
          <p class="muted" role="status">
            Loading events… {events.length.toLocaleString('en')} so far
          </p>
        )}
        {selected ? (
          <EventDetails
            event={selected}
            window={selected.type === 'window.focus' ? null : windowAt(events, selected)}
          />
        ) : (
          <p class="muted event-details">Select an event to see its details and move the player to it.</p>
        )}
      </aside>
    </div>
  );
}

export function WatchRecordingPage({ sessionId }: { sessionId: string }) {
  return (
    <RecordingPage
      sessionId={sessionId}
      heading="Recording"
      file="recording.webm"
      download="Download WebM"
      Player={RecordingPlayer}
    />
  );
}
