/** The recorded terminal driver: a sealed session's `recording.cast`, fetched whole and loaded into the screen. */
import { parseCast } from '../../../protocol/asciicast.ts';
import type { Driver } from '../player/core.ts';
import { fetchCast } from './api.ts';
import { type CastEvent, type CastHeader, eventMs } from './cast.ts';
import type { TerminalScreen } from './screen.ts';

export interface LoadedCast {
  header: CastHeader;
  events: CastEvent[];
  durationMs: number;
}

/**
 * `knownDurationMs` is the session's media length from the API, when known; the cast's last event wins if it
 * is later. `loaded` gets the parsed cast (the page cuts it into minutes).
 */
export function recordedCastDriver(
  url: string,
  knownDurationMs: number | null,
  loaded: (cast: LoadedCast) => void,
): Driver<TerminalScreen> {
  let stopped = false;
  return {
    attach(context) {
      fetchCast(url)
        .then((text) => {
          if (stopped) return;
          const { header, events } = parseCast(text);
          const last = events.at(-1);
          const durationMs = Math.max(1, knownDurationMs ?? 0, last ? eventMs(last) : 0);
          context.video.load(header, events, durationMs);
          loaded({ header, events, durationMs });
        })
        .catch((error: Error) => {
          if (!stopped) context.emit('error', { message: `The terminal log cannot be played: ${error.message}` });
        });
    },
    detach() {
      stopped = true;
    },
  };
}
