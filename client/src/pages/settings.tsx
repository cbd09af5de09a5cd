/** Settings → Session Recording: the policy new sessions start with. */
import { useEffect, useState } from 'preact/hooks';
import { api, call, describeFailure, type Policy } from '../api.ts';
import { RecordingRulesSection } from './recording-rules-settings.tsx';
import { RetentionSettingsSection } from './retention-settings.tsx';
import { ProcessingSettingsSection } from './processing-settings.tsx';

const MINUTE_MS = 60_000;

export function SettingsPage() {
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    call(api.settings.recording.$get())
      .then(setPolicy)
      .catch((e: unknown) => setError(describeFailure(e)));
  }, []);

  const edit = (change: Partial<Policy>) => {
    if (policy) setPolicy({ ...policy, ...change });
    setNotice(null);
  };

  const minutes = (name: 'inactivityTimeoutMs' | 'maxSessionLengthMs', label: string, max: number) =>
    policy && (
      <label>
        {label}
        <input
          type="number"
          min={0}
          max={max}
          step={1}
          required
          value={policy[name] / MINUTE_MS}
          onInput={(e) => edit({ [name]: Math.round(Number(e.currentTarget.value) * MINUTE_MS) })}
        />
      </label>
    );

  const save = async (e: Event) => {
    e.preventDefault();
    if (!policy) return;
    try {
      setPolicy(await call(api.settings.recording.$put({ json: policy })));
      setError(null);
      setNotice('Saved. New sessions use these settings; running sessions keep the ones they started with.');
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Settings: Session Recording</h2>
      {error && <p role="alert">{error}</p>}
      {policy === null && !error && <p>Loading…</p>}
      {policy && (
        <form class="card stack narrow" onSubmit={save}>
          <label class="inline">
            <input
              type="checkbox"
              checked={policy.recordingEnabled}
              onChange={(e) => edit({ recordingEnabled: e.currentTarget.checked })}
            />
            Record sessions
          </label>
          <label>
            Recording level (where no rule below names one)
            <select
              value={policy.recordingLevel}
              onChange={(e) => edit({ recordingLevel: e.currentTarget.value as Policy['recordingLevel'] })}
            >
              <option value="advanced">Advanced: screen, keystrokes, processes, windows</option>
              <option value="basic">Basic: the screen only (activity from screen changes)</option>
            </select>
          </label>
          <label class="inline">
            <input
              type="checkbox"
              checked={policy.keystrokesEnabled}
              onChange={(e) => edit({ keystrokesEnabled: e.currentTarget.checked })}
            />
            Record keystrokes
          </label>
          {minutes('inactivityTimeoutMs', 'End a session after this many minutes without activity (0: never)', 24 * 60)}
          {minutes('maxSessionLengthMs', 'End a session after this many minutes in total (0: no limit)', 7 * 24 * 60)}
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <div>
            <button type="submit" class="primary">
              Save
            </button>
          </div>
        </form>
      )}
      <p class="muted">These apply to new sessions; running sessions keep the settings they started with.</p>
      <RecordingRulesSection />
      <RetentionSettingsSection />
      <ProcessingSettingsSection />
    </section>
  );
}
