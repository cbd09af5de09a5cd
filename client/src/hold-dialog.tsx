/** Place or release a session's legal hold, with the reason the audit log keeps (`recording:administer`). */
import { useState } from 'preact/hooks';
import { api, call, describeFailure, type SessionSummary } from './api.ts';
import { Dialog } from './dialog.tsx';

export function HoldDialog({
  session,
  onDone,
  onClose,
}: {
  session: Pick<SessionSummary, 'id' | 'user' | 'target' | 'retention'>;
  onDone: (note: string) => void;
  onClose: () => void;
}) {
  const held = session.retention.hold;
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const args = { param: { id: session.id }, json: { reason } };
      if (held) await call(api.sessions[':id'].hold.$delete(args));
      else await call(api.sessions[':id'].hold.$put(args));
      onDone(held ? 'Legal hold released.' : 'Legal hold placed: retention will not delete this session.');
    } catch (failure) {
      setError(describeFailure(failure));
      setBusy(false);
    }
  };

  return (
    <Dialog title={`Legal hold: ${session.user} on ${session.target}`} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {error && <p role="alert">{error}</p>}
        {held ? (
          <p>
            Held since {held.since} by {held.by}: {held.reason}
          </p>
        ) : (
          <p>A held session is never deleted by retention until the hold is released.</p>
        )}
        <label>
          {held ? 'Why it is released' : 'Why it is held (a case or ticket number)'}
          <input
            type="text"
            required
            maxLength={1000}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {held ? 'Release hold' : 'Place legal hold'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
