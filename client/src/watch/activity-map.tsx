/**
 * The activity map under the timeline: a heatmap of the session (drawn on a canvas), the playhead, and the
 * search matches as buttons; clicking the map or a match moves the player there.
 */
import { useEffect, useRef } from 'preact/hooks';
import { type ActivityItem, type Density, summary, TYPE_LABELS } from '../activity.ts';
import { clock } from '../format.ts';
import type { PlayerCore } from '../player/core.ts';
import { usePlayerState } from '../player/use-player.ts';
import { drawActivityMap, LANES } from './draw-activity-map.ts';

function percent(ms: number, spanMs: number): string {
  return `${Math.min(100, Math.max(0, (ms / spanMs) * 100)).toFixed(3)}%`;
}

/** Only this re-renders as the video plays. */
function Playhead({ core, spanMs }: { core: PlayerCore; spanMs: number }) {
  const state = usePlayerState(core);
  return <div class="map-playhead" aria-hidden="true" style={{ left: percent(state?.currentMs ?? 0, spanMs) }} />;
}

/** Re-renders only when its data changes (the page above it does not follow playback). */
export function ActivityMap({
  core,
  density,
  spanMs,
  matches,
}: {
  core: PlayerCore;
  density: Density;
  spanMs: number;
  matches: readonly ActivityItem[];
}) {
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    drawActivityMap(element, density, spanMs);
    const observer = new ResizeObserver(() => drawActivityMap(element, density, spanMs));
    observer.observe(element);
    return () => observer.disconnect();
  }, [density, spanMs]);

  const seekFromPointer = (event: MouseEvent) => {
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    core.seek(((event.clientX - box.left) / box.width) * spanMs);
  };

  return (
    <div class={matches.length > 0 ? 'activity-map has-matches' : 'activity-map'}>
      <ul class="map-lanes" aria-hidden="true">
        {LANES.map((lane) => (
          <li key={lane.key}>{lane.label}</li>
        ))}
      </ul>
      <div class="map-strip">
        {/* The timeline slider above is the keyboard way to move; clicking the map is a shortcut for the mouse. */}
        <canvas
          ref={canvas}
          data-buckets={density.buckets.length}
          role="img"
          aria-label={`Activity map: screen change, keystrokes, programs and window changes over ${clock(spanMs)}. Click to move there.`}
          onClick={seekFromPointer}
        />
        <Playhead core={core} spanMs={spanMs} />
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
