/**
 * Watch Live for SSH sessions (`sessions:watch-live`): the session's terminal as the SSH proxy records it,
 * how far behind it is, who else is watching, and terminate, as on the video live page. Loaded on first use,
 * with xterm.js.
 */
import { useRef } from 'preact/hooks';
import type { Permission } from '../api.ts';
import { endedReason, LiveView } from '../watch/live-page.tsx';
import { LivePage, type LivePlayerProps } from '../watch/watch-page.tsx';
import { terminalLiveDriver } from './live.ts';
import { ScaleToggle } from './scale-toggle.tsx';
import { useTerminalCore } from './use-terminal.ts';
import './terminal.css';

function TerminalLivePlayer(props: LivePlayerProps) {
  const host = useRef<HTMLElement>(null);
  const player = useTerminalCore(host, () =>
    terminalLiveDriver(props.sessionId, { sessionEnded: () => endedReason(props.sessionId) }),
  );
  return (
    <LiveView
      {...props}
      core={player?.core ?? null}
      edgeLeadMs={0}
      kind="terminal"
      tools={<ScaleToggle screen={player?.screen ?? null} />}
      media={<section ref={host} class="terminal-screen live-terminal" aria-label="Live terminal" />}
    />
  );
}

export function TerminalLivePage(props: { sessionId: string; can: (permission: Permission) => boolean }) {
  return <LivePage {...props} heading="Live terminal" Player={TerminalLivePlayer} />;
}
