/**
 * What was going on at the playhead, under the screen: the window in focus, the programs running and the last
 * thing typed or run, from the session's events (the last `window.focus` at or before it, the programs started
 * and not yet ended). It re-renders when one of those changes, not on every time update.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ActivityItem, type AtPlayhead, activityTimeline, atPlayhead, summary } from '../activity.ts';
import type { PlayerCore } from '../player/core.ts';

/** Programs named by name; more than this running shows "+N more". */
const PROGRAMS_SHOWN = 3;
/** The last input is cut short here (the grid and details show all of it). */
const INPUT_CHARS = 80;

function windowName(event: ActivityItem | null): string {
  if (!event) return '—';
  return event.app ? `${event.title ?? ''} (${event.app})` : (event.title ?? '—');
}

/** Which events `facts` names: two facts naming the same events render the same. */
function key(facts: AtPlayhead): string {
  return `${facts.window?.id}|${facts.programs.map((p) => p.id).join(',')}|${facts.input?.id}`;
}

export function AtPlayheadFacts({ core, events }: { core: PlayerCore; events: readonly ActivityItem[] }) {
  const timeline = useMemo(() => activityTimeline(events), [events]);
  const [facts, setFacts] = useState(() => atPlayhead(timeline, core.state.currentMs));
  useEffect(() => {
    const update = (ms: number) => {
      const next = atPlayhead(timeline, ms);
      setFacts((current) => (key(current) === key(next) ? current : next));
    };
    update(core.state.currentMs);
    return core.on('state', (state) => update(state.currentMs));
  }, [core, timeline]);

  const programs = facts.programs.slice(0, PROGRAMS_SHOWN).map((p) => p.name || p.path || `pid ${p.pid}`);
  const more = facts.programs.length - programs.length;
  return (
    <dl class="at-playhead-facts" aria-label="At the playhead">
      <div>
        <dt>Window:</dt>
        <dd class="at-window" title={windowName(facts.window)}>
          {windowName(facts.window)}
        </dd>
      </div>
      <div>
        <dt>Process:</dt>
        <dd class="at-programs">
          {programs.length ? programs.join(', ') : '—'}
          {more > 0 ? ` +${more} more` : ''}
        </dd>
      </div>
      <div>
        <dt>{facts.input?.type === 'ssh.command' ? 'Last command:' : 'Last keys:'}</dt>
        <dd class="at-input">{facts.input ? summary(facts.input).slice(0, INPUT_CHARS) : '—'}</dd>
      </div>
    </dl>
  );
}
