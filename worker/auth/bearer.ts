import { ApiError } from '../errors.ts';

/** The credential in `Authorization: Bearer <credential>`, or a 401. */
export function bearerCredential(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S{1,512})\s*$/i);
  if (!match?.[1]) throw new ApiError(401, 'unauthenticated', 'Send `Authorization: Bearer <credential>`.');
  return match[1];
}

/** Compares two secrets in constant time (hashing first, so their lengths leak nothing either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
