/** Settings → MP4 processing: convert on demand (the default) or every sealed video, and to which codec. */
import { useEffect, useState } from 'preact/hooks';
import { CODEC_LABEL, type ProcessingSettings, VideoCodec } from '../../../protocol/processing.ts';
import { api, call, describeFailure } from '../api.ts';

export function ProcessingSettingsSection() {
  const [settings, setSettings] = useState<ProcessingSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    call(api.settings.recording.processing.$get())
      .then(setSettings)
      .catch((e: unknown) => setError(describeFailure(e)));
  }, []);

  const edit = (change: Partial<ProcessingSettings>) => {
    if (settings) setSettings({ ...settings, ...change });
    setNotice(null);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!settings) return;
    try {
      setSettings(await call(api.settings.recording.processing.$put({ json: settings })));
      setError(null);
      setNotice(
        settings.onDemand
          ? 'Saved. Recordings stay WebM until someone asks for an MP4.'
          : 'Saved. Every desktop recording sealed from now on is converted to MP4.',
      );
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  // Re-queues every failed MP4 with its attempts reset (the WebM recordings are not touched).
  const retryFailed = async () => {
    try {
      const { retried } = await call(api.processing['retry-failed'].$post());
      setError(null);
      setNotice(
        retried.length === 0 ? 'No conversion had failed.' : `Retrying ${retried.length} failed conversion(s).`,
      );
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <section aria-labelledby="processing-settings-title">
      <h3 id="processing-settings-title">Video processing (MP4)</h3>
      {error && <p role="alert">{error}</p>}
      {settings && (
        <form class="card stack narrow" onSubmit={save}>
          <label class="inline">
            <input
              type="checkbox"
              checked={settings.onDemand}
              onChange={(e) => edit({ onDemand: e.currentTarget.checked })}
            />
            On-demand video processing (off: convert every sealed desktop recording)
          </label>
          <label>
            Video codec
            <select value={settings.codec} onChange={(e) => edit({ codec: e.currentTarget.value as VideoCodec })}>
              {VideoCodec.options.map((codec) => (
                <option key={codec} value={codec}>
                  {CODEC_LABEL[codec]}
                </option>
              ))}
            </select>
          </label>
          <p class="muted">
            Conversions run in a witness-processor (npm start runs one when ffmpeg is installed). The WebM stays the
            evidence; the MP4's hash is signed beside it.
          </p>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <div>
            <button type="submit" class="primary">
              Save processing settings
            </button>{' '}
            <button type="button" onClick={retryFailed}>
              Retry failed conversions
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
