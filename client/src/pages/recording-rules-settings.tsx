/**
 * Settings → Session Recording → where recordings are saved and at what level, by target: the default storage
 * location and the rules (first match wins), offering only the locations this deployment declares.
 */
import { useEffect, useState } from 'preact/hooks';
import type { RecordingRules, StorageLocation, TargetRule } from '../../../protocol/recording-rules.ts';
import { api, call, describeFailure } from '../api.ts';

export function RecordingRulesSection() {
  const [rules, setRules] = useState<RecordingRules | null>(null);
  const [locations, setLocations] = useState<StorageLocation[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    Promise.all([call(api.settings.recording.rules.$get()), call(api.settings.recording.storage.$get())])
      .then(([stored, storage]) => {
        setRules(stored);
        setLocations(storage.locations);
      })
      .catch((e: unknown) => setError(describeFailure(e)));
  }, []);

  const change = (next: RecordingRules) => {
    setRules(next);
    setNotice(null);
  };
  const editRule = (index: number, patch: Partial<TargetRule>) =>
    rules &&
    change({
      ...rules,
      rules: rules.rules.map((rule, i) => {
        if (i !== index) return rule;
        const merged: Record<string, unknown> = { ...rule, ...patch };
        // An empty choice means "the default": the field is left out of the rule.
        for (const key of ['recordingLevel', 'storage']) if (merged[key] === '') delete merged[key];
        return merged as TargetRule;
      }),
    });
  const move = (index: number, by: -1 | 1) => {
    if (!rules) return;
    const list = [...rules.rules];
    const [rule] = list.splice(index, 1);
    if (rule) list.splice(index + by, 0, rule);
    change({ ...rules, rules: list });
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!rules) return;
    try {
      setRules(await call(api.settings.recording.rules.$put({ json: rules })));
      setError(null);
      setNotice('Saved. New sessions are saved and recorded by these rules; existing ones stay where they are.');
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  const storageOptions = locations.map((location) => (
    <option key={location.name} value={location.name}>
      {location.label} ({location.name})
    </option>
  ));

  return (
    <section aria-labelledby="rules-settings-title">
      <h3 id="rules-settings-title">Where recordings are saved, and the level, by target</h3>
      {error && <p role="alert">{error}</p>}
      {rules && (
        <form class="card stack" onSubmit={save}>
          <label>
            Save recordings to
            <select value={rules.storage} onChange={(e) => change({ ...rules, storage: e.currentTarget.value })}>
              {storageOptions}
            </select>
          </label>
          <p class="muted">
            Rules by target (the first whose pattern matches decides; <code>*</code> any run of characters,{' '}
            <code>?</code> one). Applies to new sessions.
          </p>
          <table aria-label="Rules by target">
            <thead>
              <tr>
                <th>Targets</th>
                <th>Recording level</th>
                <th>Storage</th>
                <th>
                  <span class="visually-hidden">Order</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.rules.map((rule, index) => (
                <tr key={index}>
                  <td>
                    <input
                      aria-label={`Rule ${index + 1} targets`}
                      required
                      value={rule.targets}
                      onInput={(e) => editRule(index, { targets: e.currentTarget.value })}
                    />
                  </td>
                  <td>
                    <select
                      aria-label={`Rule ${index + 1} recording level`}
                      value={rule.recordingLevel ?? ''}
                      onChange={(e) =>
                        editRule(index, { recordingLevel: e.currentTarget.value as TargetRule['recordingLevel'] })
                      }
                    >
                      <option value="">the default</option>
                      <option value="advanced">advanced</option>
                      <option value="basic">basic (screen only)</option>
                    </select>
                  </td>
                  <td>
                    <select
                      aria-label={`Rule ${index + 1} storage`}
                      value={rule.storage ?? ''}
                      onChange={(e) => editRule(index, { storage: e.currentTarget.value })}
                    >
                      <option value="">the default</option>
                      {storageOptions}
                    </select>
                  </td>
                  <td>
                    <button type="button" disabled={index === 0} onClick={() => move(index, -1)}>
                      Up
                    </button>
                    <button type="button" disabled={index === rules.rules.length - 1} onClick={() => move(index, 1)}>
                      Down
                    </button>
                    <button
                      type="button"
                      onClick={() => change({ ...rules, rules: rules.rules.filter((_, i) => i !== index) })}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div>
            <button
              type="button"
              onClick={() => change({ ...rules, rules: [...rules.rules, { targets: '', recordingLevel: 'basic' }] })}
            >
              Add a rule
            </button>
          </div>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <div>
            <button type="submit" class="primary">
              Save rules
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
