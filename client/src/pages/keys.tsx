/** API keys: list, create (the secret is shown once), revoke. */
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { type ApiKey, type ApiKeyScope, api, call, describeFailure } from '../api.ts';
import { Dialog } from '../dialog.tsx';
import { dateTime } from '../format.ts';

const SCOPES: Record<ApiKeyScope, string> = {
  launch: 'Launch sessions',
  agent: 'Agent (launch on one host only)',
  read: 'Read sessions and recordings',
  vault: 'Vault (launch, and may turn recording off or weaken the settings per session: audited)',
  processor: 'Processor (witness-processor: converts recordings to MP4, nothing else)',
};

function keyStatus(key: ApiKey): string {
  if (key.revokedAt) return `Revoked ${dateTime(key.revokedAt)}`;
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return `Expired ${dateTime(key.expiresAt)}`;
  return key.expiresAt ? `Active, expires ${dateTime(key.expiresAt)}` : 'Active';
}

function NewKeyDialog({
  onCreated,
  onClose,
}: {
  onCreated: (created: { key: ApiKey; secret: string }) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<ApiKeyScope[]>([]);
  const [host, setHost] = useState('');
  const [days, setDays] = useState('');
  const [error, setError] = useState<string | null>(null);
  const agent = scopes.includes('agent');

  const submit = async (e: Event) => {
    e.preventDefault();
    if (scopes.length === 0) return setError('Choose at least one scope.');
    try {
      const body = {
        name,
        scopes,
        ...(host.trim() ? { host: host.trim() } : {}),
        ...(days ? { expiresInDays: Number(days) } : {}),
      };
      onCreated(await call(api.keys.$post({ json: body })));
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <Dialog title="New API key" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {error && <p role="alert">{error}</p>}
        <div class="row">
          <label>
            Name
            <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Host{agent ? '' : ' (agent keys only)'}
            <input
              required={agent}
              disabled={!agent}
              maxLength={500}
              value={host}
              onInput={(e) => setHost(e.currentTarget.value)}
            />
          </label>
          <label>
            Expires after (days, optional)
            <input
              type="number"
              min={1}
              max={3650}
              inputMode="numeric"
              value={days}
              onInput={(e) => setDays(e.currentTarget.value)}
            />
          </label>
        </div>
        <fieldset>
          <legend>Scopes</legend>
          {(Object.keys(SCOPES) as ApiKeyScope[]).map((scope) => (
            <label class="inline" key={scope}>
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) =>
                  setScopes(e.currentTarget.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))
                }
              />
              {SCOPES[scope]}
            </label>
          ))}
        </fieldset>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Create key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function SecretDialog({ name, secret, onClose }: { name: string; secret: string; onClose: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const secretId = useId();
  return (
    <Dialog title={`API key ${name} created`} onClose={onClose}>
      <div class="stack">
        <p class="warning">
          Copy this secret now. <strong>You will not see it again</strong>: Witness stores only its hash.
        </p>
        <label for={secretId}>Secret</label>
        <div class="row">
          <input id={secretId} class="secret" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
          <button
            type="button"
            onClick={() =>
              navigator.clipboard.writeText(secret).then(
                () => setCopied('Copied to the clipboard.'),
                () => setCopied('Could not copy; select the secret and copy it yourself.'),
              )
            }
          >
            Copy
          </button>
        </div>
        <p role="status">{copied}</p>
        <div class="actions">
          <button type="button" class="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}

function RevokeDialog({ apiKey, onRevoke, onClose }: { apiKey: ApiKey; onRevoke: () => void; onClose: () => void }) {
  return (
    <Dialog title={`Revoke the key ${apiKey.name}?`} onClose={onClose}>
      <p>Anything still using it ({apiKey.prefix}…) stops working at once. This cannot be undone.</p>
      <div class="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onRevoke}>
          Revoke key
        </button>
      </div>
    </Dialog>
  );
}

export function KeysSection() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const load = useCallback(() => {
    call(api.keys.$get())
      .then((r) => setKeys(r.keys))
      .catch((e: unknown) => setError(describeFailure(e)));
  }, []);
  useEffect(load, [load]);

  const revoke = async (key: ApiKey) => {
    setRevoking(null);
    try {
      await call(api.keys[':id'].$delete({ param: { id: key.id } }));
      setError(null);
    } catch (failure) {
      setError(describeFailure(failure));
    }
    load();
  };

  return (
    <section aria-labelledby="keys-title">
      <div class="toolbar">
        <h2 id="keys-title">API keys</h2>
        <button type="button" onClick={() => setCreating(true)}>
          New API key
        </button>
      </div>
      {error && <p role="alert">{error}</p>}
      {keys === null && !error && <p>Loading…</p>}
      {keys?.length === 0 && <p>No API keys yet.</p>}
      {keys && keys.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Scopes</th>
              <th>Host</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Status</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{key.host ?? '—'}</td>
                <td>
                  {dateTime(key.createdAt)}
                  <span class="muted"> by {key.createdBy}</span>
                </td>
                <td class="nowrap">{dateTime(key.lastUsedAt)}</td>
                <td>{keyStatus(key)}</td>
                <td class="actions">
                  {!key.revokedAt && (
                    <button type="button" class="danger" onClick={() => setRevoking(key)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <NewKeyDialog
          onClose={() => setCreating(false)}
          onCreated={(reply) => {
            setCreating(false);
            setCreated(reply);
            load();
          }}
        />
      )}
      {created && <SecretDialog name={created.key.name} secret={created.secret} onClose={() => setCreated(null)} />}
      {revoking && (
        <RevokeDialog apiKey={revoking} onClose={() => setRevoking(null)} onRevoke={() => revoke(revoking)} />
      )}
    </section>
  );
}
