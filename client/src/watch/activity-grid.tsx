/**
 * The activity grid beside the player (time, type, summary) and the selected event's details. Recorded text
 * is hostile: it is only ever rendered as text, and cut short in the grid (the details show all of it).
 *
 * The grid holds every loaded event (200,000 in an 8-hour session) but renders only the rows in view: rows are
 * one fixed height, so the rows in view follow from the scroll position. The row at the playhead (the last
 * event at or before it, found by binary search) is highlighted, and kept in view while "Follow" is on; the
 * grid re-renders when that row changes, not on every time update.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type ActivityItem, playheadIndex, summary, TYPE_LABELS } from '../activity.ts';
import { clock } from '../format.ts';
import type { PlayerCore } from '../player/core.ts';

/** The grid shows the start of long text; the details show the rest. */
const SUMMARY_CHARS = 200;
/** Every row's height in CSS pixels (style.css holds `table.activity-grid tbody tr` to it). */
export const ROW_PX = 30;
/** Rows rendered above and below the ones in view, so a fast scroll shows no blank. */
const OVERSCAN = 10;
/** Where a followed row is put when it has left the view: this far down the visible rows. */
const FOLLOW_AT = 1 / 3;
/** Keys that scroll the grid: pressed in it, they are the user taking over from "Follow". */
const SCROLL_KEYS = new Set(['ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End', ' ']);

/**
 * Follows the playhead: the index of the row at the playhead in `events` (-1 before the first), updated only
 * when that row changes; each change is measured (`activity-grid-update`: from the time update to the grid's
 * commit).
 */
function usePlayheadRow(core: PlayerCore | null, events: readonly ActivityItem[]) {
  const [row, setRow] = useState(() => (core ? playheadIndex(events, core.state.currentMs) : -1));
  const asked = useRef<number | null>(null);
  useEffect(() => {
    if (!core) return;
    const update = (ms: number) => {
      const started = performance.now();
      const next = playheadIndex(events, ms);
      setRow((current) => {
        if (current !== next) asked.current = started;
        return next;
      });
      performance.measure('activity-grid-lookup', { start: started, duration: performance.now() - started });
    };
    update(core.state.currentMs);
    return core.on('state', (state) => update(state.currentMs));
  }, [core, events]);
  useLayoutEffect(() => {
    if (asked.current === null) return;
    performance.measure('activity-grid-update', { start: asked.current, duration: performance.now() - asked.current });
    asked.current = null;
  }, [row]);
  return row;
}

export function ActivityGrid({
  events,
  selectedId,
  onSelect,
  label,
  core,
  children,
}: {
  events: readonly ActivityItem[];
  selectedId: number | null;
  onSelect: (event: ActivityItem) => void;
  label: string;
  /** The player whose playhead the grid follows; null before it exists. */
  core: PlayerCore | null;
  /** Shown under the rows, inside the scrolled box (an empty grid's note). */
  children?: ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 19 * 16 });
  const [follow, setFollow] = useState(true);
  const playhead = usePlayheadRow(core, events);
  /** Set by the user's wheel, touch, scrolling key or scroll-bar press: a scroll after it is theirs. */
  const userInput = useRef(false);
  const followNow = (on: boolean) => {
    userInput.current = false;
    setFollow(on);
  };

  // Play turns following back on; the user scrolling the grid turns it off.
  useEffect(() => core?.on('play', () => followNow(true)), [core]);

  const onScroll = () => {
    const element = box.current;
    if (!element) return;
    if (userInput.current) setFollow(false);
    setView({ top: element.scrollTop, height: element.clientHeight });
  };
  // What the user does to scroll (wheel, touch, a scrolling key, a press on the scroll bar): a scroll after it
  // is theirs. Passive listeners: they never hold up the scroll.
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const userScrolls = (event: Event) => {
      if (event instanceof KeyboardEvent && !SCROLL_KEYS.has(event.key)) return;
      // A press on a row selects it; only one on the box itself (its scroll bar) scrolls.
      if (event.type === 'pointerdown' && event.target !== element) return;
      userInput.current = true;
    };
    const kinds = ['wheel', 'touchstart', 'pointerdown', 'keydown'] as const;
    for (const kind of kinds) element.addEventListener(kind, userScrolls, { passive: true });
    return () => {
      for (const kind of kinds) element.removeEventListener(kind, userScrolls);
    };
  }, []);

  // The followed row into view: left where it is while visible, else put a third of the way down.
  useLayoutEffect(() => {
    const element = box.current;
    if (!follow || !element || playhead < 0) return;
    const header = element.querySelector('thead')?.getBoundingClientRect().height ?? ROW_PX;
    const rowTop = header + playhead * ROW_PX;
    const visible = element.clientHeight - header;
    if (rowTop >= element.scrollTop + header && rowTop + ROW_PX <= element.scrollTop + element.clientHeight) return;
    userInput.current = false;
    element.scrollTop = Math.max(0, rowTop - header - Math.floor(visible * FOLLOW_AT));
    setView({ top: element.scrollTop, height: element.clientHeight });
  }, [follow, playhead, events]);

  useLayoutEffect(() => {
    const element = box.current;
    if (element) setView({ top: element.scrollTop, height: element.clientHeight });
  }, [events]);

  const first = Math.max(0, Math.floor(view.top / ROW_PX) - OVERSCAN);
  const last = Math.min(events.length, Math.ceil((view.top + view.height) / ROW_PX) + OVERSCAN);
  const shown = events.slice(first, last);

  return (
    <div class="activity-grid-host">
      <div class="grid-tools">
        <span class="muted">
          {events.length.toLocaleString('en')} {events.length === 1 ? 'event' : 'events'}
        </span>
        <span class="spacer" />
        <button
          type="button"
          class={follow ? 'follow on' : 'follow'}
          aria-pressed={follow}
          title="Keep the row at the playhead in view while playing; scrolling the grid turns it off"
          onClick={() => followNow(!follow)}
        >
          Follow{follow ? ': on' : ': off'}
        </button>
      </div>
      <div ref={box} class="grid-scroll" onScroll={onScroll}>
        <table class="activity-grid" aria-label={label} aria-rowcount={events.length + 1}>
          <thead>
            <tr>
              <th class="col-time">Time</th>
              <th class="col-type">Type</th>
              <th>What</th>
            </tr>
          </thead>
          <tbody>
            {first > 0 && <tr class="grid-spacer" style={{ height: `${first * ROW_PX}px` }} />}
            {shown.map((event, i) => {
              const index = first + i;
              const classes = [event.id === selectedId && 'selected', index === playhead && 'at-playhead'];
              return (
                // The row is a larger target for the mouse; its time button is the keyboard way to the same.
                <tr
                  key={event.id}
                  class={classes.filter(Boolean).join(' ') || undefined}
                  aria-rowindex={index + 2}
                  aria-current={event.id === selectedId ? 'true' : index === playhead ? 'time' : undefined}
                  data-offset-ms={event.offsetMs}
                  onClick={() => onSelect(event)}
                >
                  <td>
                    <button
                      type="button"
                      class="link"
                      onClick={(e) => {
                        e.stopPropagation();
                        onSelect(event);
                      }}
                    >
                      {clock(event.offsetMs, true)}
                    </button>
                  </td>
                  <td>{TYPE_LABELS[event.type]}</td>
                  <td class="summary">{summary(event).slice(0, SUMMARY_CHARS)}</td>
                </tr>
              );
            })}
            {last < events.length && (
              <tr class="grid-spacer" style={{ height: `${(events.length - last) * ROW_PX}px` }} />
            )}
          </tbody>
        </table>
        {children}
      </div>
    </div>
  );
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd class="wrap">{children}</dd>
    </>
  );
}

/** Everything the API has on one event; `window` is the window in focus at the time, when known. */
export function EventDetails({ event, window }: { event: ActivityItem; window: ActivityItem | null }) {
  const when =
    event.endMs !== null && event.endMs > event.offsetMs
      ? `${clock(event.offsetMs, true)}–${clock(event.endMs, true)}`
      : clock(event.offsetMs, true);
  const inWindow = window && (
    <Field name="Window">
      {window.title ?? ''}
      {window.app ? ` (${window.app})` : ''}
    </Field>
  );
  return (
    <section class="event-details" aria-labelledby="event-details-title">
      <h3 id="event-details-title">
        {TYPE_LABELS[event.type]} at {when}
      </h3>
      <dl>
        {event.type === 'process.start' || event.type === 'process.stop' ? (
          <>
            <Field name="Program">{event.name ?? ''}</Field>
            <Field name="Full path">{event.path ?? ''}</Field>
            {event.type === 'process.start' && <Field name="Command line">{event.text ?? ''}</Field>}
            <Field name="Run by">{event.user ?? ''}</Field>
            <Field name="Process ID">
              {event.pid ?? '—'}
              {event.ppid !== null ? ` (parent ${event.ppid})` : ''}
            </Field>
            {inWindow}
          </>
        ) : event.type === 'window.focus' ? (
          <>
            <Field name="Window title">{event.title ?? ''}</Field>
            <Field name="Application">{event.app ?? ''}</Field>
            {event.pid !== null && <Field name="Process ID">{event.pid}</Field>}
          </>
        ) : (
          <>
            <Field name={event.type === 'keys' ? 'Typed' : 'Sent'}>{event.text ?? ''}</Field>
            {event.redacted && <Field name="Redacted">Typed into a password prompt; not recorded.</Field>}
            {event.type === 'keys' && event.title !== null && (
              <Field name="Window">
                {event.title}
                {event.app ? ` (${event.app})` : ''}
              </Field>
            )}
          </>
        )}
      </dl>
    </section>
  );
}
