/** The recorded player's controls: play/pause, position, speed, skip inactivity, and the keyboard shortcuts. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { clock } from '../format.ts';
import { type PlayerCore, SPEEDS } from '../player/core.ts';
import { playerKey } from '../player/keys.ts';
import { usePlayerState } from '../player/use-player.ts';

/** Keyboard shortcuts, as the help line under the player spells them. */
export const SHORTCUTS_HELP = 'Keyboard: Space play/pause · ← → 5 s back/forward · + − speed · f fullscreen';
/** The desktop video's zoom keys, added to the help line where it zooms. */
export const ZOOM_HELP = ' · z Z zoom in/out · 0 reset zoom';
const STEP_MS = 5000;

/** Space, ←/→ and +/− anywhere on the page, except where the key already does something. */
export function useShortcuts(core: PlayerCore | null): void {
  useEffect(() => {
    if (!core) return;
    const onKey = (event: KeyboardEvent) => {
      if (!playerKey(event)) return;
      const actions: Record<string, () => void> = {
        ' ': () => core.togglePlay(),
        ArrowLeft: () => core.skipBy(-STEP_MS),
        ArrowRight: () => core.skipBy(STEP_MS),
        '+': () => core.stepSpeed(1),
        '=': () => core.stepSpeed(1),
        '-': () => core.stepSpeed(-1),
        _: () => core.stepSpeed(-1),
      };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [core]);
}

/** `tools`: the frame's own (zoom, fullscreen), at the end of the row. */
export function Controls({ core, spanMs, tools }: { core: PlayerCore; spanMs: number; tools?: ComponentChildren }) {
  const state = usePlayerState(core);
  const [skipNote, setSkipNote] = useState('');
  useEffect(
    () => core.on('skipped', ({ fromMs, toMs }) => setSkipNote(`Skipped ${clock(toMs - fromMs)} without activity.`)),
    [core],
  );
  if (!state) return null;
  const durationMs = state.durationMs ?? spanMs;
  return (
    <div class="player-controls">
      <div class="control-row">
        <button type="button" class="primary play" onClick={() => core.togglePlay()}>
          {state.playing ? 'Pause' : 'Play'}
        </button>
        <span class="time">
          {clock(state.currentMs)} / {clock(durationMs)}
        </span>
        <label class="inline">
          Speed
          <select value={String(state.speed)} onChange={(e) => core.setSpeed(Number(e.currentTarget.value))}>
            {SPEEDS.map((speed) => (
              <option key={speed} value={String(speed)}>
                {speed}×
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={state.skipInactivity}
            onChange={(e) => core.setSkipInactivity(e.currentTarget.checked)}
          />
          Skip inactivity
        </label>
        <span class="muted skip-note" role="status">
          {state.skipInactivity ? skipNote : ''}
        </span>
        {state.waiting && <span class="muted">Loading…</span>}
        <span class="spacer" />
        {tools}
      </div>
      <input
        type="range"
        class="timeline"
        aria-label="Timeline"
        min={0}
        max={durationMs}
        step={100}
        value={state.currentMs}
        aria-valuetext={`${clock(state.currentMs)} of ${clock(durationMs)}`}
        onInput={(e) => core.seek(Number(e.currentTarget.value))}
        onKeyDown={(e) => {
          // Arrows move by the same 5 s as everywhere on the page, not by the slider's fine step.
          if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
          e.preventDefault();
          core.skipBy(e.key === 'ArrowLeft' ? -STEP_MS : STEP_MS);
        }}
      />
      {state.error && <p role="alert">{state.error}</p>}
    </div>
  );
}
