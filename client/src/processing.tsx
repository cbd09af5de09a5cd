/**
 * A recording's MP4 in the console: its status badge (queued, converting N %, ready with its size, failed with
 * the cause and the attempts made), the Request and Retry buttons, and "Retry failed" for every recording.
 * Shared by the session list and the recording page.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ProcessingView } from '../../protocol/processing.ts';
import { api, call, describeFailure } from './api.ts';

/** Sizes as people read them. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Why it failed, in one line: the message, ffmpeg's exit code or signal. */
function causeLine(processing: ProcessingView): string {
  const error = processing.error;
  if (!error) return 'failed';
  // The processor's message usually names the exit code or signal already.
  const code = error.exitCode !== null ? `exit code ${error.exitCode}` : error.signal;
  return code && !error.message.includes(String(error.exitCode ?? error.signal))
    ? `${error.message} (${code})`
    : error.message;
}

export function ProcessingBadge({ processing }: { processing: ProcessingView | null }) {
  if (!processing) return null;
  const attempts = `${processing.attempts} of ${processing.maxAttempts} attempts`;
  switch (processing.status) {
    case 'queued':
      return (
        <span class="badge mp4 mp4-queued" title={processing.error ? `Last attempt: ${causeLine(processing)}` : ''}>
          MP4 queued{processing.attempts > 0 ? ` (${attempts})` : ''}
        </span>
      );
    case 'processing':
      return (
        <span class="badge mp4 mp4-processing" title={attempts}>
          MP4 converting {Math.round(processing.percent ?? 0)} %
        </span>
      );
    case 'ready':
      return (
        <span class="badge mp4 mp4-ready" title={`SHA-256 ${processing.sha256}`}>
          MP4 ready ({fileSize(processing.bytes ?? 0)})
        </span>
      );
    case 'failed':
      return (
        <span class="mp4-failure">
          <span class="badge mp4 mp4-failed">MP4 failed</span>{' '}
          <span class="mp4-cause">
            {causeLine(processing)}; {attempts}
          </span>
          {processing.error?.stderrTail && (
            <details>
              <summary>ffmpeg said</summary>
              <pre class="mp4-stderr">{processing.error.stderrTail}</pre>
            </details>
          )}
        </span>
      );
  }
}

/** Request (no MP4 yet), Retry (failed) or Download MP4 (ready) for one sealed video recording. */
export function ProcessingActions({
  sessionId,
  processing,
  onChanged,
}: {
  sessionId: string;
  processing: ProcessingView | null;
  onChanged: (processing: ProcessingView | null) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (pending: () => Promise<{ processing: ProcessingView | null }>) => {
    setBusy(true);
    try {
      onChanged((await pending()).processing);
      setError(null);
    } catch (failure) {
      setError(describeFailure(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {!processing && (
        <button
          type="button"
          disabled={busy}
          onClick={() => act(() => call(api.sessions[':id'].processing.$post({ param: { id: sessionId } })))}
        >
          Request video processing
        </button>
      )}
      {processing?.status === 'failed' && (
        <button
          type="button"
          disabled={busy}
          onClick={() => act(() => call(api.sessions[':id'].processing.retry.$post({ param: { id: sessionId } })))}
        >
          Retry
        </button>
      )}
      {processing?.status === 'ready' && processing.url && <a href={`${processing.url}?download=1`}>Download MP4</a>}
      {error && (
        <span role="alert" class="mp4-error">
          {error}
        </span>
      )}
    </>
  );
}

/** Queues every failed MP4 again (administrators). */
export function RetryFailedButton({ onDone }: { onDone: (retried: number) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            const reply = await call(api.processing['retry-failed'].$post());
            setError(null);
            onDone(reply.retried.length);
          } catch (failure) {
            setError(describeFailure(failure));
          } finally {
            setBusy(false);
          }
        }}
      >
        Retry failed MP4s
      </button>
      {error && <span role="alert">{error}</span>}
    </>
  );
}

/** The recording page's MP4: its badge and actions, followed while it is queued or converting. */
export function RecordingProcessing({ sessionId, initial }: { sessionId: string; initial: ProcessingView | null }) {
  const [processing, setProcessing] = useState<ProcessingView | null>(initial);
  const pending = processing?.status === 'queued' || processing?.status === 'processing';
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => {
      call(api.sessions[':id'].processing.$get({ param: { id: sessionId } }))
        .then((reply) => setProcessing(reply.processing))
        .catch(() => undefined); // the next tick tries again; the badge keeps what it knew
    }, 2000);
    return () => clearInterval(timer);
  }, [sessionId, pending]);
  return (
    <span class="recording-processing">
      <ProcessingBadge processing={processing} />{' '}
      <ProcessingActions sessionId={sessionId} processing={processing} onChanged={setProcessing} />
    </span>
  );
}
