/** Reads a small request body whole, never holding more of it than its limit, whatever its framing. */
import { ApiError } from '../errors.ts';

/**
 * The body's bytes. A declared length over `maxBytes` is refused before a byte is read; a body without one
 * (chunked) is counted as it arrives and refused as soon as it passes the limit; a body that breaks off
 * before its end (the client went away, or sent less than its Content-Length) is the client's 400.
 */
export async function readWholeBody(
  request: Request,
  maxBytes: number,
  tooLarge: () => ApiError,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        void reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(400, 'incomplete_body', 'The connection ended before the whole body arrived.');
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
