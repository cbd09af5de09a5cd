/**
 * Ingest tokens: `wt1.<sessionId>.<expiresEpochSeconds>.<HMAC-SHA256, base64url>`.
 * Scoped to one session, short-lived, and able to do nothing but feed that session.
 * Used by the Worker (issue, verify) and by SessionDO (renewal over the control socket).
 */
import { z } from 'zod';

const PREFIX = 'wt1';
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    if (secret.length < 32) throw new Error('WITNESS_TOKEN_SECRET must be at least 32 characters');
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    keys.set(secret, key);
  }
  return key;
}

function base64url(bytes: ArrayBuffer): string {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/** Signs a token for `sessionId` valid for `ttlSeconds`. */
export async function issueIngestToken(
  secret: string,
  sessionId: string,
  ttlSeconds: number,
  now = Date.now(),
): Promise<IssuedToken> {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const payload = `${PREFIX}.${sessionId}.${expires}`;
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), new TextEncoder().encode(payload));
  return { token: `${payload}.${base64url(signature)}`, expiresAt: new Date(expires * 1000) };
}

const TokenShape = z.string().regex(/^wt1\.[0-9a-f-]{36}\.\d{1,12}\.[A-Za-z0-9_-]{43}$/);

export type TokenCheck =
  | { ok: true; sessionId: string; expiresAt: Date }
  | { ok: false; reason: 'invalid' | 'expired' };

/** Verifies signature (constant time, by WebCrypto) and expiry. */
export async function verifyIngestToken(secret: string, token: string, now = Date.now()): Promise<TokenCheck> {
  if (!TokenShape.safeParse(token).success) return { ok: false, reason: 'invalid' };
  const [prefix, sessionId, expires, signature] = token.split('.') as [string, string, string, string];
  const mac = fromBase64url(signature);
  if (!mac) return { ok: false, reason: 'invalid' };
  const payload = new TextEncoder().encode(`${prefix}.${sessionId}.${expires}`);
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), mac, payload);
  if (!valid) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(Number(expires) * 1000);
  if (expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
  return { ok: true, sessionId, expiresAt };
}
