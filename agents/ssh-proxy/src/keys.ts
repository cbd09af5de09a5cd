/** Public keys: parsing authorized_keys lines, SHA256 fingerprints, and comparisons that leak no timing. */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { utils } = ssh2;

/** The key blob (the wire form `ssh-keygen` fingerprints) of an OpenSSH public key line, or null. */
export function parsePublicKey(line: string): Buffer | null {
  const parsed = utils.parseKey(line.trim());
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key.isPrivateKey()) return null;
  return key.getPublicSSH();
}

/** "SHA256:…" as `ssh-keygen -l` prints it (base64 without padding). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Equal contents, compared in time that does not depend on where they differ. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still spend a comparison, so a length mismatch is not faster to learn than a content mismatch.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Whether `blob` is one of `keys`; every key is compared, so the time does not say which matched. */
export function isAuthorized(blob: Buffer, keys: readonly Buffer[]): boolean {
  let found = false;
  for (const key of keys) found = sameBytes(blob, key) || found;
  return found;
}

/** Compares two fingerprints ("SHA256:…") in constant time. */
export function sameFingerprint(a: string, b: string): boolean {
  return sameBytes(Buffer.from(a), Buffer.from(b));
}
