/**
 * Checks an uploaded MP4 before it is served: an MP4 (ISO BMFF) with exactly one track, a video track in the
 * job's codec, whose duration is within DURATION_TOLERANCE_MS of the source's. mediabunny reads it inside
 * workerd by Range from R2 (only the boxes it needs: with `+faststart` the `moov` is at the front).
 */
import { Input, MP4, StreamSource } from 'mediabunny';
import { DURATION_TOLERANCE_MS, MEDIABUNNY_CODEC, type VideoCodec } from '../../protocol/processing.ts';
import { ApiError } from '../errors.ts';

export interface CheckedMp4 {
  durationMs: number;
}

/** The MP4's duration, or a 422 naming what is wrong with it. */
export async function checkMp4(
  bucket: R2Bucket,
  key: string,
  codec: VideoCodec,
  sourceDurationMs: number,
): Promise<CheckedMp4> {
  const head = await bucket.head(key);
  if (!head) throw new ApiError(422, 'upload_missing', 'The uploaded MP4 is not in storage.');
  const source = new StreamSource({
    getSize: () => head.size,
    read: async (start, end) => {
      const object = await bucket.get(key, { range: { offset: start, length: end - start } });
      if (!object) throw new Error('the uploaded MP4 went missing while it was read');
      return new Uint8Array(await object.arrayBuffer());
    },
    maxCacheSize: 4 * 1024 * 1024,
  });
  const input = new Input({ source, formats: [MP4] });
  const refuse = (code: string, message: string) => new ApiError(422, code, message);
  try {
    const format = await input.getFormat().catch(() => null);
    if (format !== MP4) throw refuse('not_mp4', 'The upload is not an MP4 file.');
    const tracks = await input.getTracks().catch(() => {
      throw refuse('not_mp4', 'The upload is not a readable MP4 file.');
    });
    const wanted = MEDIABUNNY_CODEC[codec];
    const [track] = tracks;
    if (tracks.length !== 1 || track?.type !== 'video' || track.codec !== wanted) {
      const found = tracks.map((t) => `${t.type} ${t.codec ?? 'unknown'}`).join(', ') || 'no tracks';
      throw refuse('wrong_tracks', `The MP4 must hold exactly one ${wanted} video track; it holds ${found}.`);
    }
    const durationMs = Math.round((await input.computeDuration()) * 1000);
    if (Math.abs(durationMs - sourceDurationMs) > DURATION_TOLERANCE_MS) {
      throw refuse(
        'duration_mismatch',
        `The MP4 lasts ${durationMs} ms; the recording lasts ${sourceDurationMs} ms (at most ${DURATION_TOLERANCE_MS} ms apart).`,
      );
    }
    return { durationMs };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw refuse('not_mp4', `The MP4 could not be read: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    input.dispose();
  }
}
