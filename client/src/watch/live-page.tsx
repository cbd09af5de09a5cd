/**
 * Watch Live (`sessions:watch-live`): the session's screen as it is recorded, how far behind it is, who else
 * is watching, and terminate. The live driver reconnects by itself; when the session ends the page says so
 * and links to the recording once it is sealed. Loaded on first use.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EndReason } from '../../../protocol/session.ts';
import { CloseCode } from '../../../protocol/version.ts';
import { api, call, type Permission } from '../api.ts';
import type { PlayerCore } from '../player/core.ts';
import { PlayerFrame } from '../player/frame.tsx';
import { liveDriver } from '../player/live.ts';
import { usePlayerCore, usePlayerEvent, usePlayerState } from '../player/use-player.ts';
import { TerminateDialog } from '../terminate-dialog.tsx';
import { LivePage, type LivePlayerProps } from './watch-page.tsx';

/** While the recording is sealed after the end, the page asks this often whether it is ready. */
const SEAL_POLL_MS = 2000;
/** Further behind the newest media than this, the page offers to jump to live. */
const BEHIND_NOTICE_MS = 4000;
/** How long the page says "reconnected" after the live socket came back. */
const RECONNECTED_NOTICE_MS = 10_000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Why the live socket dropped: the server said it is restarting (1012), or the connection just went. */
function dropText(code: number | null): string {
  return code === CloseCode.serverRestart ? 'The server is restarting' : 'Connection to the server lost';
}

function reasonText(reason: EndReason | null): string {
  return reason ? ` (${reason.replaceAll('_', ' ')})` : '';
}

/** After the end: the recording's link once it is sealed (the terminal live page shows it too). */
export function RecordingLink({ sessionId, canView }: { sessionId: string; canView: boolean }) {
  const [status, setStatus] = useState<string | null>(null);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current = true;
    const poll = () =>
      call(api.sessions[':id'].$get({ param: { id: sessionId } })).then(
        (detail) => {
          if (!current) return;
          setStatus(detail.recording.status);
          if (detail.recording.status === 'recording' || detail.recording.status === 'finalizing') {
            timer = setTimeout(poll, SEAL_POLL_MS);
          }
        },
        () => current && setStatus('unknown'),
      );
    poll();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [sessionId]);
  if (status === 'ready') {
    return canView ? (
      <a href={`#/sessions/${sessionId}/recording`}>Watch the recording</a>
    ) : (
      <span>Its recording is ready.</span>
    );
  }
  if (status === null || status === 'recording' || status === 'finalizing') {
    return <span class="muted">Its recording is being sealed…</span>;
  }
  return <span class="muted">Recording: {status}.</span>;
}

/** Asked by a live driver after its socket dropped: is the session over, and why? */
export async function endedReason(sessionId: string): Promise<EndReason | null> {
  const detail = await call(api.sessions[':id'].$get({ param: { id: sessionId } }));
  return detail.status === 'ended' ? ((detail.endReason as EndReason | null) ?? 'ended_by_user') : null;
}

/**
 * What a live page shows around its media (a `<video>` or a terminal), in the same player frame as a
 * recording (fullscreen; zoom for a video): LIVE, the delay, play/pause, go to live, terminate, who is
 * watching, what was skipped, and the end. `edgeLeadMs`: how far before the newest media "Go to live" lands
 * (a video needs a little buffer; a terminal none).
 */
export function LiveView({
  sessionId,
  session,
  can,
  onNotice,
  core,
  media,
  edgeLeadMs,
  kind,
  tools,
}: LivePlayerProps & {
  core: PlayerCore | null;
  media: ComponentChildren;
  edgeLeadMs: number;
  kind: 'desktop' | 'terminal';
  /** More tools in the status row (a terminal's Fit / 1:1). */
  tools?: ComponentChildren;
}) {
  const live = usePlayerEvent(core, 'live');
  const state = usePlayerState(core);
  const [terminating, setTerminating] = useState(false);

  const ended = live?.connection === 'ended';
  // Measured at each render (the core re-renders this ten times a second while playing).
  const behindMs = live?.edgeMs != null && state ? Math.max(0, live.edgeMs - state.currentMs) : null;
  const sinceStoredMs = live?.newestStoredAt != null ? Math.max(0, Date.now() - live.newestStoredAt) : null;
  const delayMs = sinceStoredMs !== null && behindMs !== null ? sinceStoredMs + behindMs : null;
  const names = live?.viewers.map((v) => v.name) ?? [];
  const reconnected =
    live?.connection === 'live' &&
    live.reconnectedAt !== null &&
    Date.now() - live.reconnectedAt < RECONNECTED_NOTICE_MS;

  return (
    <div class="live">
      {ended && (
        <p class="notice session-ended" role="status">
          The session ended{reasonText(live?.endReason ?? null)}.{' '}
          <RecordingLink sessionId={sessionId} canView={can('recordings:view')} />
        </p>
      )}
      <PlayerFrame
        label={kind === 'terminal' ? 'Live terminal player' : 'Live screen player'}
        zoomable={kind === 'desktop'}
        screen={media}
        tools={tools}
        controls={(frameTools) => (
          <div class="live-status">
            {live?.connection === 'live' && (
              <span class="live-badge" role="img" aria-label="Live">
                LIVE
              </span>
            )}
            {live?.connection === 'connecting' && <span class="badge">Connecting…</span>}
            {live?.connection === 'reconnecting' && (
              <span class="badge warn" role="status">
                {dropText(live.dropCode)} — reconnecting (attempt {live.attempt})…
              </span>
            )}
            {reconnected && (
              <span class="badge back" role="status">
                Reconnected: the connection to the server is back.
              </span>
            )}
            {ended && <span class="badge ended">Ended</span>}
            {!ended && delayMs !== null && (
              <span class="delay">
                Delay {seconds(delayMs)}{' '}
                <span class="muted">
                  (newest piece stored {seconds(sinceStoredMs ?? 0)} ago, playing {seconds(behindMs ?? 0)} behind it)
                </span>
              </span>
            )}
            <span class="spacer" />
            {!ended && core && state && (
              <button type="button" onClick={() => core.togglePlay()}>
                {state.playing ? 'Pause' : 'Play'}
              </button>
            )}
            {!ended && core && behindMs !== null && behindMs > BEHIND_NOTICE_MS && (
              <button type="button" onClick={() => live?.edgeMs != null && core.seek(live.edgeMs - edgeLeadMs)}>
                Go to live
              </button>
            )}
            {!ended && can('sessions:terminate') && (
              <button type="button" class="danger" onClick={() => setTerminating(true)}>
                Terminate
              </button>
            )}
            {frameTools}
          </div>
        )}
      />
      <div class="live-facts">
        {!ended && (
          <p>
            <span class="muted">Watching now: </span>
            <span class="viewers">{names.length ? names.join(', ') : '—'}</span>
          </p>
        )}
        {live && live.skippedPieces > 0 && (
          <p class="muted">
            {live.skippedPieces} piece(s) were lost on the way and skipped; the recording may still get them.
          </p>
        )}
        {live?.error && <p role="alert">{live.error}</p>}
        {state?.error && <p role="alert">{state.error}</p>}
      </div>
      {terminating && (
        <TerminateDialog
          session={{ id: sessionId, user: session?.user ?? 'this user', target: session?.target ?? 'this session' }}
          onClose={() => setTerminating(false)}
          onDone={(note) => {
            setTerminating(false);
            onNotice(note);
          }}
        />
      )}
    </div>
  );
}

function LivePlayer(props: LivePlayerProps) {
  const video = useRef<HTMLVideoElement>(null);
  const core = usePlayerCore(video, () =>
    liveDriver(props.sessionId, { sessionEnded: () => endedReason(props.sessionId) }),
  );
  return (
    <LiveView
      {...props}
      core={core}
      edgeLeadMs={1500}
      kind="desktop"
      media={<video ref={video} class="player-video live-video" muted playsInline autoplay aria-label="Live screen" />}
    />
  );
}

export function WatchLivePage(props: { sessionId: string; can: (permission: Permission) => boolean }) {
  return <LivePage {...props} heading="Live" Player={LivePlayer} />;
}
