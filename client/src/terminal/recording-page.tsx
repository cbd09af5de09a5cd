/**
 * Watch Recording for SSH sessions (`recordings:view`): the terminal log replayed in xterm.js by the same
 * player core, controls, activity map, grid and search as a screen recording, the log's minutes under it,
 * and the `.cast` to download for asciinema. Loaded on first use, with xterm.js.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import { MIN_IDLE_MS } from '../player/idle.ts';
import { PlayerWithActivity } from '../watch/recording-page.tsx';
import { type RecordedPlayerProps, RecordingPage } from '../watch/watch-page.tsx';
import { minuteSegments, quietStretches } from './cast.ts';
import { MinuteSegments } from './minutes.tsx';
import { type LoadedCast, recordedCastDriver } from './recorded.ts';
import { ScaleToggle } from './scale-toggle.tsx';
import { useTerminalCore } from './use-terminal.ts';
import './terminal.css';

function TerminalPlayer({ session, url, sessionId }: RecordedPlayerProps) {
  const host = useRef<HTMLElement>(null);
  const [cast, setCast] = useState<LoadedCast | null>(null);
  const player = useTerminalCore(host, () =>
    recordedCastDriver(url, session?.recording.mediaDurationMs ?? null, setCast),
  );
  const core = player?.core ?? null;
  const idle = useMemo(() => (cast ? quietStretches(cast.events, cast.durationMs, MIN_IDLE_MS) : []), [cast]);
  const segments = useMemo(() => (cast ? minuteSegments(cast.events, cast.durationMs) : []), [cast]);

  return (
    <PlayerWithActivity
      core={core}
      session={session}
      sessionId={sessionId}
      idle={idle}
      kind="terminal"
      screen={<section ref={host} class="terminal-screen" aria-label="Terminal recording" />}
      tools={<ScaleToggle screen={player?.screen ?? null} />}
    >
      {core && cast && <MinuteSegments core={core} segments={segments} />}
    </PlayerWithActivity>
  );
}

export function TerminalRecordingPage({ sessionId }: { sessionId: string }) {
  return (
    <RecordingPage
      sessionId={sessionId}
      heading="Terminal recording"
      file="recording.cast"
      download="Export as .cast"
      Player={TerminalPlayer}
    />
  );
}
