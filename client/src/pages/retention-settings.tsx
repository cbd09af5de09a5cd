/**
 * Settings → Retention: archive and delete recordings after N days (docs/retention.md), and what the next daily
 * run will do with the rules as saved.
 */
import { useEffect, useState } from 'preact/hooks';
import { MAX_RETENTION_DAYS, type RetentionPreview, type RetentionSettings } from '../../../protocol/retention.ts';
import { api, call, describeFailure } from '../api.ts';

type RuleName = keyof RetentionSettings;

export function RetentionSettingsSection() {
  const [rules, setRules] = useState<RetentionSettings | null>(null);
  const [preview, setPreview] = useState<RetentionPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const loadPreview = () =>
    call(api.settings.recording.retention['next-run'].$get())
      .then(setPreview)
      .catch((e: unknown) => setError(describeFailure(e)));

  useEffect(() => {
    call(api.settings.recording.retention.$get())
      .then(setRules)
      .catch((e: unknown) => setError(describeFailure(e)));
    void loadPreview();
  }, []);

  const edit = (name: RuleName, change: Partial<RetentionSettings[RuleName]>) => {
    if (rules) setRules({ ...rules, [name]: { ...rules[name], ...change } });
    setNotice(null);
  };

  const rule = (name: RuleName, label: string) =>
    rules && (
      <fieldset class="stack">
        <label class="inline">
          <input
            type="checkbox"
            name={`${name}-enabled`}
            checked={rules[name].enabled}
            onChange={(e) => edit(name, { enabled: e.currentTarget.checked })}
          />
          {label}
        </label>
        <label>
          Days after the session ended
          <input
            type="number"
            name={`${name}-days`}
            min={1}
            max={MAX_RETENTION_DAYS}
            step={1}
            required
            value={rules[name].afterDays}
            onInput={(e) => edit(name, { afterDays: Number(e.currentTarget.value) })}
          />
        </label>
      </fieldset>
    );

  const save = async (e: Event) => {
    e.preventDefault();
    if (!rules) return;
    try {
      setRules(await call(api.settings.recording.retention.$put({ json: rules })));
      setError(null);
      setNotice('Saved. The next daily run applies these rules.');
      await loadPreview();
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <section aria-labelledby="retention-title">
      <h2 id="retention-title">Settings: Retention</h2>
      {error && <p role="alert">{error}</p>}
      {rules === null && !error && <p>Loading…</p>}
      {rules && (
        <form class="card stack narrow" onSubmit={save} aria-label="Retention">
          {rule('archive', 'Move recordings to archive after N days')}
          {rule('delete', 'Delete recordings after N days')}
          <p class="muted">
            Archived recordings move to Infrequent Access storage (billed for at least 30 days). Deleting removes a
            recording’s media and activity; the session, its signed manifest and the audit log stay. Sessions under a
            legal hold are never deleted.
          </p>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <div>
            <button type="submit" class="primary">
              Save retention
            </button>
          </div>
        </form>
      )}
      {preview && (
        <div class="card narrow" data-testid="retention-next-run">
          <h3>Next run: {new Date(preview.at).toLocaleString()}</h3>
          <ul>
            <li>
              Archive: <strong data-count="archive">{preview.archive}</strong> sessions
            </li>
            <li>
              Delete: <strong data-count="delete">{preview.delete}</strong> sessions
            </li>
            <li>
              Kept by a legal hold: <strong data-count="held">{preview.held}</strong>
            </li>
            {preview.unfinished > 0 && (
              <li>
                Deletions to finish: <strong data-count="unfinished">{preview.unfinished}</strong>
              </li>
            )}
          </ul>
        </div>
      )}
    </section>
  );
}
