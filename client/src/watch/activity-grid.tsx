/**
 * The activity grid beside the player (time, type, summary) and the selected event's details. Recorded text
 * is hostile: it is only ever rendered as text, and cut short in the grid (the details show all of it).
 */
import type { ComponentChildren } from 'preact';
import { type ActivityItem, summary, TYPE_LABELS } from '../activity.ts';
import { clock } from '../format.ts';

/** The grid shows the start of long text; the details show the rest. */
const SUMMARY_CHARS = 200;

export function ActivityGrid({
  events,
  selectedId,
  onSelect,
  label,
}: {
  events: readonly ActivityItem[];
  selectedId: number | null;
  onSelect: (event: ActivityItem) => void;
  label: string;
}) {
  return (
    <table class="activity-grid" aria-label={label}>
      <thead>
        <tr>
          <th class="col-time">Time</th>
          <th class="col-type">Type</th>
          <th>What</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          // The row is a larger target for the mouse; its time button is the keyboard way to the same.
          <tr
            key={event.id}
            class={event.id === selectedId ? 'selected' : undefined}
            aria-current={event.id === selectedId ? 'true' : undefined}
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
        ))}
      </tbody>
    </table>
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
