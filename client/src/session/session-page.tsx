/**
 * `#/sessions/{id}`: one session's page for a reviewer — every fact the server keeps about it, its live state
 * while it runs (with Watch Live, Message, Terminate), who ended it and why, its gaps, and the Evidence panel.
 * Everything shown was recorded or typed by someone: it is rendered as text.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuditRow, auditSentenceText } from '../../../protocol/audit-sentence.ts';
import type { EndReason } from '../../../protocol/session.ts';
import { api, call, describeFailure, type Permission, type SessionDetail } from '../api.ts';
import { dateTime, duration } from '../format.ts';
import { TerminateDialog } from '../terminate-dialog.tsx';
import { type CheckState, checkEvidence, type EvidenceCheck } from './evidence-check.ts';

const END_REASONS: Record<EndReason, string> = {
  ended_by_user: 'Ended by the user (the recorded program or the launcher stopped)',
  terminated_by_admin: 'Terminated by an administrator',
  inactivity_timeout: 'Inactivity timeout',
  maximum_length: 'Maximum session length reached',
  launcher_lost: 'The launcher lost its connection and did not come back',
  launch_expired: 'Launched, but no launcher connected before the launch expired',
};

/** How often the page refreshes while the session runs. */
const LIVE_REFRESH_MS = 5_000;

function minutes(ms: number): string {
  if (ms === 0) return 'off';
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function Fact({ term, children }: { term: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** The audit rows that say who ended or messaged the session (View Audit Log only). */
function useEndedBy(id: string, enabled: boolean, status: string | undefined) {
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let current = true;
    Promise.all(
      (['session.terminated', 'session.messaged'] as const).map((action) =>
        call(api.audit.$get({ query: { session: id, action, limit: '20' } })).then((page) => page.entries),
      ),
    ).then(
      ([terminated, messaged]) => current && setRows([...(terminated ?? []), ...(messaged ?? [])]),
      () => current && setRows([]),
    );
    return () => {
      current = false;
    };
  }, [id, enabled, status]);
  return rows;
}

export function SessionPage({ sessionId, can }: { sessionId: string; can: (p: Permission) => boolean }) {
  const [detail, setDetail] = useState<SessionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [terminating, setTerminating] = useState(false);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      call(api.sessions[':id'].$get({ param: { id: sessionId } })).then(
        (reply) => {
          if (!current) return;
          setDetail(reply);
          setError(null);
          if (reply.live) timer = setTimeout(load, LIVE_REFRESH_MS);
        },
        (failure: unknown) => current && setError(describeFailure(failure)),
      );
    load();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [sessionId]);
  const endedBy = useEndedBy(sessionId, can('audit:view'), detail?.status);

  if (error) return <p role="alert">{error}</p>;
  if (!detail) return <p>Loading…</p>;
  const { recording, policy, endpoints } = detail;
  const ongoing = detail.live !== null;
  const gaps = recording.missingPieces;
  const terminal = detail.format === 'asciicast';

  return (
    <section class="session-page" aria-labelledby="session-title">
      <header class="session-head">
        <div>
          <h2 id="session-title">
            {detail.user} on {detail.target}
          </h2>
          <p class="muted">
            <span class={`badge ${detail.status}`}>{detail.status}</span> {detail.protocol}
            {detail.origin === 'agent' ? ' · recorded by the host agent (not launched)' : ''}
          </p>
        </div>
        <div class="actions">
          {ongoing && can('sessions:watch-live') && (
            <a class="button primary" href={`#/sessions/${detail.id}/live`}>
              Watch Live
            </a>
          )}
          {recording.url && can('recordings:view') && (
            <a class="button primary" href={`#/sessions/${detail.id}/recording`}>
              {terminal ? 'Play the terminal' : 'Play the recording'}
            </a>
          )}
          {ongoing && can('sessions:terminate') && (
            <button type="button" onClick={() => setTerminating(true)}>
              Message or terminate…
            </button>
          )}
        </div>
      </header>
      {note && <p class="notice">{note}</p>}
      {terminating && (
        <TerminateDialog
          session={detail}
          onClose={() => setTerminating(false)}
          onDone={(text) => {
            setTerminating(false);
            setNote(text);
          }}
        />
      )}

      <div class="facts">
        <section aria-labelledby="facts-session">
          <h3 id="facts-session">Session</h3>
          <dl>
            <Fact term="ID">
              <code>{detail.id}</code>
            </Fact>
            <Fact term="User">{detail.user}</Fact>
            <Fact term="Target">{detail.target}</Fact>
            <Fact term="Protocol">
              {detail.protocol} ({terminal ? 'terminal recording, asciicast' : 'screen recording, WebM'})
            </Fact>
            <Fact term="Launched by">
              {detail.origin === 'agent'
                ? `the host agent, for the login it found${detail.agentLogin ? ` (${JSON.stringify(detail.agentLogin)})` : ''}`
                : (detail.policySource.launchedBy ?? '—')}
            </Fact>
          </dl>
        </section>

        <section aria-labelledby="facts-time">
          <h3 id="facts-time">Time</h3>
          <dl>
            <Fact term="Launched">{dateTime(detail.createdAt)}</Fact>
            <Fact term="Started">{dateTime(detail.startedAt)}</Fact>
            <Fact term="Ended">{dateTime(detail.endedAt)}</Fact>
            <Fact term="Duration">{duration(detail.durationMs)}</Fact>
            <Fact term="End reason">
              {detail.endReason
                ? (END_REASONS[detail.endReason as EndReason] ?? detail.endReason)
                : ongoing
                  ? 'Running'
                  : '—'}
            </Fact>
            {endedBy && endedBy.length > 0 && (
              <Fact term="By">
                <ul class="plain">
                  {endedBy.map((row, i) => (
                    <li key={i}>{auditSentenceText(row)}</li>
                  ))}
                </ul>
              </Fact>
            )}
          </dl>
        </section>

        <section aria-labelledby="facts-policy">
          <h3 id="facts-policy">Policy it ran under</h3>
          <dl>
            <Fact term="Recording">{policy.recordingEnabled ? 'on' : 'off'}</Fact>
            <Fact term="Recording level">
              {policy.recordingLevel === 'basic' ? 'basic (screen only)' : 'advanced (keystrokes, processes, windows)'}
            </Fact>
            <Fact term="Saved to">{detail.storage}</Fact>
            <Fact term="Keystrokes">{policy.keystrokesEnabled ? 'recorded' : 'not recorded'}</Fact>
            <Fact term="Inactivity timeout">{minutes(policy.inactivityTimeoutMs)}</Fact>
            <Fact term="Maximum length">{minutes(policy.maxSessionLengthMs)}</Fact>
            <Fact term="Set by">
              {detail.policySource.kind === 'settings'
                ? 'the Session Recording settings'
                : `${detail.policySource.kind}${detail.policySource.changes?.length ? `: ${detail.policySource.changes.join(', ')}` : ''}`}
            </Fact>
          </dl>
        </section>

        <section aria-labelledby="facts-where">
          <h3 id="facts-where">Where it was recorded</h3>
          <dl>
            <Fact term="Launcher host">
              {endpoints?.host
                ? `${endpoints.host.name} (${endpoints.host.addresses.join(', ') || 'no address'})`
                : '—'}
            </Fact>
            <Fact term="SSH client">
              {endpoints?.client ? `${endpoints.client.address} port ${endpoints.client.port}` : '—'}
            </Fact>
            <Fact term="Connected from">{endpoints?.seenFrom ?? '—'}</Fact>
            <Fact term="Process capture">
              {detail.capture
                ? `${detail.capture.processes.method}${detail.capture.processes.pollMs ? ` every ${detail.capture.processes.pollMs} ms (shorter processes may be missed)` : ''}; ${detail.capture.processes.excluded} process(es) outside the session not recorded`
                : '—'}
            </Fact>
          </dl>
        </section>

        <section aria-labelledby="facts-recording">
          <h3 id="facts-recording">Recording</h3>
          <dl>
            <Fact term="Status">
              {recording.status}
              {recording.error ? ` — ${recording.error}` : ''}
            </Fact>
            <Fact term="Pieces received">
              {recording.pieces} ({bytes(recording.bytes)})
            </Fact>
            <Fact term="Gaps">
              {gaps.length === 0 ? (
                'none'
              ) : (
                <span class="gap-list" role="status">
                  {gaps.length} gap(s):{' '}
                  {gaps
                    .map((gap: { from: number; to: number }) =>
                      gap.from === gap.to ? `piece ${gap.from}` : `pieces ${gap.from}–${gap.to}`,
                    )
                    .join(', ')}{' '}
                  never arrived
                </span>
              )}
            </Fact>
            <Fact term="Sealed file">
              {recording.recordingBytes === null
                ? '—'
                : `${bytes(recording.recordingBytes)}, ${duration(recording.mediaDurationMs)}`}
            </Fact>
            {detail.processing && (
              <Fact term="MP4">
                {detail.processing.status}
                {detail.processing.percent !== null ? ` ${detail.processing.percent} %` : ''}
                {detail.processing.error ? ` — ${detail.processing.error}` : ''}
              </Fact>
            )}
            {detail.retention.notice && <Fact term="Retention">{detail.retention.notice}</Fact>}
            {detail.retention.hold && <Fact term="Legal hold">{JSON.stringify(detail.retention.hold)}</Fact>}
          </dl>
        </section>
      </div>

      {can('recordings:view') && !ongoing && <EvidencePanel detail={detail} />}
    </section>
  );
}

const STATE_TEXT: Record<CheckState, string> = {
  running: 'Checking',
  passed: 'Verified',
  failed: 'FAILED',
  skipped: 'Not checked',
};

function EvidencePanel({ detail }: { detail: SessionDetail }) {
  const [checks, setChecks] = useState<EvidenceCheck[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const sealed = detail.recording.status !== 'recording' && detail.recording.status !== 'finalizing';
  const deleted = detail.retention.notice !== null;

  const run = () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setFailure(null);
    setChecks([]);
    checkEvidence(
      { id: detail.id, format: detail.format, mediaDeleted: deleted },
      (list) => !controller.signal.aborted && setChecks(list),
      controller.signal,
    ).catch((e: unknown) => !controller.signal.aborted && setFailure(describeFailure(e)));
  };
  const done = checks !== null && checks.length > 0 && checks.every((c) => c.state !== 'running');
  const failed = checks?.some((c) => c.state === 'failed') ?? false;

  return (
    <section class="card evidence" aria-labelledby="evidence-title">
      <h3 id="evidence-title">Evidence</h3>
      {!sealed ? (
        <p>The evidence is signed when the recording is sealed.</p>
      ) : (
        <>
          <p>
            The server signed a manifest of this session when it was sealed: every piece's SHA-256, the hash chain over
            them, the recording's hash and a digest of the activity.{' '}
            <a href={`/api/v1/sessions/${detail.id}/manifest`} download>
              Download the manifest
            </a>
            .
          </p>
          <button type="button" class="primary" onClick={run} disabled={checks !== null && !done && !failure}>
            {checks === null ? 'Verify in this browser' : 'Verify again'}
          </button>
          {failure && <p role="alert">The check could not finish: {failure}</p>}
          {checks && checks.length > 0 && (
            <table class="checks" aria-label="Evidence checks">
              <tbody>
                {checks.map((check) => (
                  <tr key={check.name} class={check.state}>
                    <th scope="row">{check.name}</th>
                    <td>{STATE_TEXT[check.state]}</td>
                    <td>{check.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {done && (
            <p role="status" class={failed ? 'alert' : 'notice'}>
              {failed
                ? 'This session’s evidence does not verify: see the checks above.'
                : 'Everything checked verifies against the server’s key.'}
            </p>
          )}
          <p class="muted">This check trusts the key this server shows. To check offline with a key you keep:</p>
          <pre class="command">
            {`witness fetch-evidence --server ${location.origin} --api-key KEY --session ${detail.id} --out ev/\n` +
              `witness verify --manifest ev/manifest.json --recording ev/recording.${detail.format === 'asciicast' ? 'cast' : 'webm'} \\\n` +
              `  --pieces ev/pieces --activity ev/activity.jsonl --public-key server-public-key.pem --session ${detail.id}`}
          </pre>
        </>
      )}
    </section>
  );
}
