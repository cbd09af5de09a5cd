/** Serves one R2 object with HTTP Range, audited before a byte goes out (MP4s and processing sources). */
import type { Context } from 'hono';
import type { ApiEnv } from './auth/principal.ts';
import { ApiError } from './errors.ts';
import { parseRange } from './http-range.ts';
import { headMedia, type MediaPlace } from './media-bucket.ts';

export interface ServedObject {
  key: string;
  /** The session's storage location and retention mark: where its media is (worker/media-bucket.ts). */
  place: MediaPlace;
  contentType: string;
  filename: string;
  download: boolean;
  /** Called once per GET (not HEAD) with the bytes it serves, before they are read from storage. */
  audit: (read: { bytes: number; range: { from: number; to: number } }) => Promise<void>;
}

export async function serveObject(c: Context<ApiEnv>, served: ServedObject): Promise<Response> {
  const found = await headMedia(c.env, served.place, served.key);
  if (!found) throw new ApiError(404, 'recording_missing', 'The file is not in storage.');
  const { bucket, head } = found;
  const headers = new Headers({
    'content-type': served.contentType,
    'accept-ranges': 'bytes',
    etag: head.httpEtag,
    'cache-control': 'private, max-age=3600',
    'content-disposition': `${served.download ? 'attachment' : 'inline'}; filename="${served.filename}"`,
  });
  const range = parseRange(c.req.header('range'), head.size);
  if (range.kind === 'unsatisfiable') {
    return c.json({ error: { code: 'range_not_satisfiable', message: 'The range is outside the file.' } }, 416, {
      'content-range': `bytes */${head.size}`,
    });
  }
  const offset = range.kind === 'range' ? range.offset : 0;
  const length = range.kind === 'range' ? range.length : head.size;
  if (range.kind === 'range') headers.set('content-range', `bytes ${offset}-${offset + length - 1}/${head.size}`);
  headers.set('content-length', String(length));
  const status = range.kind === 'range' ? 206 : 200;
  if (c.req.method === 'HEAD') return new Response(null, { status, headers });
  await served.audit({ bytes: length, range: { from: offset, to: offset + length - 1 } });
  const object = await bucket.get(served.key, range.kind === 'range' ? { range } : {});
  if (!object) throw new ApiError(404, 'recording_missing', 'The file is not in storage.');
  return new Response(object.body, { status, headers });
}
