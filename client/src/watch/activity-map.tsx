/**
 * The activity map under the timeline: a heatmap of the session (drawn on a canvas), the playhead, and the
 * search matches as buttons; clicking the map or a match moves the player there. Hovering a bucket, or
 * focusing the map and moving with the arrow keys, shows what is in it: its time range, its events by kind
 * and the programs and windows seen most there.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type ActivityItem,
  bucketSummary,
  type Density,
  type DensityBucket,
  summary,
  TYPE_LABELS,
} from '../activity.ts';
import { clock } from '../format.ts';
import type { PlayerCore } from '../player/core.ts';
import { DESKTOP_LANES, drawActivityMap, type Lane, MIN_EVENT_CELL_PX } from './draw-activity-map.ts';

function percent(ms: number, spanMs: number): string {
  return `${Math.min(100, Math.max(0, (ms / spanMs) * 100)).toFixed(3)}%`;
}

/** Only this re-renders as the video plays; each move is measured (`activity-map-update`). */
function Playhead({ core, spanMs }: { core: PlayerCore; spanMs: number }) {
  const [ms, setMs] = useState(core.state.currentMs);
  const asked = useRef<number | null>(null);
  useEffect(
    () =>
      core.on('state', (state) => {
        asked.current ??= performance.now();
        setMs(state.currentMs);
      }),
    [core],
  );
  useLayoutEffect(() => {
    if (asked.current === null) return;
    performance.measure('activity-map-update', { start: asked.current, duration: performance.now() - asked.current });
    asked.current = null;
  }, [ms]);
  return <div class="map-playhead" aria-hidden="true" style={{ left: percent(ms, spanMs) }} />;
}

/**
 * The last bucket the map shows: the density may reach past the player's span (its length counts the last
 * piece's and event's end), and the map is drawn to the span.
 */
function lastBucket(density: Density, spanMs: number): number {
  return Math.max(0, Math.min(density.buckets.length - 1, Math.floor((spanMs - 1) / density.bucketMs)));
}

function hasEvents(bucket: DensityBucket | undefined): boolean {
  return bucket !== undefined && bucket.keystrokes + bucket.processEvents + bucket.windowChanges > 0;
}

/**
 * The bucket a pointer at `fraction` of the strip's width points at. An event's cell is drawn at least
 * MIN_EVENT_CELL_PX wide, to the right of its bucket: over an empty bucket, the busy one whose cell is there.
 */
function bucketAt(density: Density, spanMs: number, fraction: number, stripPx: number): number {
  const index = Math.min(lastBucket(density, spanMs), Math.max(0, Math.floor((fraction * spanMs) / density.bucketMs)));
  const bucketPx = (density.bucketMs / spanMs) * stripPx;
  const reach = bucketPx > 0 ? Math.ceil(MIN_EVENT_CELL_PX / bucketPx) - 1 : 0;
  for (let back = 0; back <= reach && index - back >= 0; back++) {
    if (hasEvents(density.buckets[index - back])) return index - back;
  }
  return index;
}

function Tooltip({
  density,
  events,
  complete,
  index,
  spanMs,
}: {
  density: Density;
  events: readonly ActivityItem[];
  complete: boolean;
  index: number;
  spanMs: number;
}) {
  const bucket = density.buckets[index] as DensityBucket;
  const toMs = Math.min(spanMs, bucket.startMs + density.bucketMs);
  const found = useMemo(() => bucketSummary(events, bucket.startMs, toMs), [events, bucket.startMs, toMs]);
  const middle = Math.min(90, Math.max(10, ((bucket.startMs + toMs) / 2 / spanMs) * 100));
  return (
    <div class="map-tooltip" id="map-tooltip" role="tooltip" aria-live="polite" style={{ left: `${middle}%` }}>
      <strong>
        {clock(bucket.startMs, true)}–{clock(toMs, true)}
      </strong>
      {found.total === 0 ? (
        <span>No events{complete ? '' : ' loaded yet'}.</span>
      ) : (
        <ul class="tooltip-counts">
          {found.counts.map(({ type, count }) => (
            <li key={type}>
              {TYPE_LABELS[type]}: {count.toLocaleString('en')}
              {type === 'keys' && bucket.keystrokes > 0
                ? ` (${bucket.keystrokes.toLocaleString('en')} characters)`
                : ''}
            </li>
          ))}
        </ul>
      )}
      {found.topPrograms.length > 0 && (
        <span class="tooltip-top">Programs: {found.topPrograms.map((p) => `${p.name} ×${p.count}`).join(', ')}</span>
      )}
      {found.topWindows.length > 0 && (
        <span class="tooltip-top"> Windows: {found.topWindows.map((w) => `${w.name} ×${w.count}`).join(', ')}</span>
      )}
      {!complete && found.total > 0 && <span class="muted"> (events still loading)</span>}
    </div>
  );
}

/** Re-renders only when its data changes or a bucket is pointed at (the page above it does not follow playback). */
export function ActivityMap({
  core,
  density,
  spanMs,
  matches,
  events = [],
  complete = true,
  lanes = DESKTOP_LANES,
}: {
  core: PlayerCore;
  density: Density;
  spanMs: number;
  matches: readonly ActivityItem[];
  /** The lanes named for what the session has (a desktop's Screen…Windows, a terminal's Input, Output, Commands). */
  lanes?: readonly Lane[];
  /** The session's events loaded so far, in time order: what the tooltip summarises. */
  events?: readonly ActivityItem[];
  /** Whether `events` is all of them. */
  complete?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [pointed, setPointed] = useState<number | null>(null);

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    drawActivityMap(element, density, spanMs, lanes);
    const observer = new ResizeObserver(() => drawActivityMap(element, density, spanMs, lanes));
    observer.observe(element);
    return () => observer.disconnect();
  }, [density, spanMs, lanes]);

  const fraction = (event: MouseEvent) => {
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    return { at: (event.clientX - box.left) / box.width, width: box.width };
  };
  const seekFromPointer = (event: MouseEvent) => core.seek(fraction(event).at * spanMs);
  const point = (event: MouseEvent) => {
    const { at, width } = fraction(event);
    setPointed(bucketAt(density, spanMs, at, width));
  };

  const count = lastBucket(density, spanMs) + 1;
  const onKey = (event: KeyboardEvent) => {
    const current = pointed ?? bucketAt(density, spanMs, core.state.currentMs / spanMs, 0);
    const page = Math.max(1, Math.round(count / 10));
    const moves: Record<string, number> = {
      ArrowLeft: current - 1,
      ArrowRight: current + 1,
      PageUp: current - page,
      PageDown: current + page,
      Home: 0,
      End: count - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      setPointed(Math.min(count - 1, Math.max(0, moves[event.key] as number)));
    } else if ((event.key === 'Enter' || event.key === ' ') && pointed !== null) {
      event.preventDefault();
      core.seek((density.buckets[pointed] as DensityBucket).startMs);
    } else if (event.key === 'Escape') setPointed(null);
  };

  return (
    <div class={matches.length > 0 ? 'activity-map has-matches' : 'activity-map'}>
      <ul class="map-lanes" aria-hidden="true">
        {lanes.map((lane) => (
          <li key={lane.key}>{lane.label}</li>
        ))}
      </ul>
      {/* The timeline slider above is the way to move; the map is read with the arrow keys and Enter moves there. */}
      {/* biome-ignore lint/a11y/useSemanticElements: a fieldset groups form fields; this strip is read by key */}
      <div
        class="map-strip"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the map is read bucket by bucket from the keyboard
        tabIndex={0}
        role="group"
        aria-label="Activity map: arrow keys read its buckets, Enter moves the player there"
        aria-describedby={pointed !== null ? 'map-tooltip' : undefined}
        onKeyDown={onKey}
        onFocus={() => setPointed((p) => p ?? bucketAt(density, spanMs, core.state.currentMs / spanMs, 0))}
        onBlur={() => setPointed(null)}
      >
        <canvas
          ref={canvas}
          data-buckets={density.buckets.length}
          role="img"
          aria-label={`Activity map: ${lanes.map((lane) => lane.label.toLowerCase()).join(', ')} over ${clock(spanMs)}. Click to move there.`}
          onClick={seekFromPointer}
          onMouseMove={point}
          onMouseLeave={() => setPointed(null)}
        />
        <Playhead core={core} spanMs={spanMs} />
        {pointed !== null && (
          <>
            <div
              class="map-focus"
              aria-hidden="true"
              style={{ left: percent((density.buckets[pointed] as DensityBucket).startMs, spanMs) }}
            />
            <Tooltip density={density} events={events} complete={complete} index={pointed} spanMs={spanMs} />
          </>
        )}
        {matches.length > 0 && (
          <ul class="map-matches" aria-label="Search matches on the activity map">
            {matches.map((match) => (
              <li key={match.id} style={{ left: percent(match.offsetMs, spanMs) }}>
                <button
                  type="button"
                  class="map-match"
                  aria-label={`Match at ${clock(match.offsetMs, true)}: ${TYPE_LABELS[match.type]} ${summary(match).slice(0, 80)}`}
                  title={`${clock(match.offsetMs, true)} ${summary(match).slice(0, 80)}`}
                  onClick={() => core.seek(match.offsetMs)}
                />
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
