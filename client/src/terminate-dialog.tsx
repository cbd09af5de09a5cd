/** Send a message to a session's user, or terminate the session with one (`sessions:terminate`). */
import { useState } from 'preact/hooks';
import { api, call, describeFailure, type SessionSummary } from './api.ts';
import { Dialog } from './dialog.tsx';

export function TerminateDialog({
  session,
  onDone,
  onClose,
}: {
  session: Pick<SessionSummary, 'id' | 'user' | 'target'>;
  onDone: (note: string) => void;
  onClose: () => void;
}) {
  const [mode, setMode] = useState<'message' | 'terminate'>('terminate');
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const reply = await call(
        api.sessions[':id'].terminate.$post({ param: { id: session.id }, json: { mode, message } }),
      );
      const what = mode === 'terminate' ? 'Session terminated' : 'Message sent';
      onDone(reply.delivered ? `${what}.` : `${what}; the launcher was not connected to receive it.`);
    } catch (failure) {
      setError(describeFailure(failure));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`${session.user} on ${session.target}`} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {error && <p role="alert">{error}</p>}
        <fieldset>
          <legend>Action</legend>
          <label class="inline">
            <input type="radio" name="mode" checked={mode === 'message'} onChange={() => setMode('message')} />
            Send a message only
          </label>
          <label class="inline">
            <input type="radio" name="mode" checked={mode === 'terminate'} onChange={() => setMode('terminate')} />
            Terminate the session with a message
          </label>
        </fieldset>
        <label>
          Message to the user
          <textarea
            rows={3}
            maxLength={1000}
            required={mode === 'message'}
            value={message}
            onInput={(e) => setMessage(e.currentTarget.value)}
          />
        </label>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class={mode === 'terminate' ? 'danger' : 'primary'} disabled={busy}>
            {mode === 'terminate' ? 'Terminate session' : 'Send message'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
