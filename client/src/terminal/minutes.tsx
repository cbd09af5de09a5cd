/** The terminal log in one-minute segments: each a button that moves the player to the minute's start. */
import { clock } from '../format.ts';
import type { PlayerCore } from '../player/core.ts';
import { usePlayerState } from '../player/use-player.ts';
import type { MinuteSegment } from './cast.ts';

export function MinuteSegments({ core, segments }: { core: PlayerCore; segments: readonly MinuteSegment[] }) {
  const state = usePlayerState(core);
  const at = state?.currentMs ?? 0;
  return (
    <nav aria-labelledby="minutes-title">
      <h3 id="minutes-title" class="visually-hidden">
        The log by minute
      </h3>
      <ol class="minutes">
        {segments.map((segment, i) => {
          const current = at >= segment.fromMs && (at < segment.toMs || i === segments.length - 1);
          return (
            <li key={segment.number}>
              <button
                type="button"
                aria-current={current ? 'true' : undefined}
                onClick={() => core.seek(segment.fromMs)}
              >
                <strong>
                  Minute {segment.number}{' '}
                  <span class="muted">
                    {clock(segment.fromMs)}–{clock(segment.toMs)}
                  </span>
                </strong>
                <span class="minute-preview">{segment.printed ? segment.preview || '…' : 'nothing printed'}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
