/** Reads the public key `witness verify` is told to trust: a file (PEM, JSON, base64, binary) or base64 text. */
import { existsSync, readFileSync } from 'node:fs';
import { fromBase64 } from '../../../protocol/evidence.ts';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export class KeyError extends Error {
  override name = 'KeyError';
}

function rawFromDer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.byteLength === 32) return Uint8Array.from(bytes);
  const prefixed =
    bytes.byteLength === ED25519_SPKI_PREFIX.byteLength + 32 && ED25519_SPKI_PREFIX.every((b, i) => bytes[i] === b);
  if (prefixed) return Uint8Array.from(bytes.subarray(ED25519_SPKI_PREFIX.byteLength));
  throw new KeyError(`not an Ed25519 public key (${bytes.byteLength} bytes; want 32 raw or 44 SPKI DER)`);
}

function rawFromText(text: string): Uint8Array<ArrayBuffer> {
  const trimmed = text.trim();
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) {
    throw new KeyError('that is a private key: give the public key (GET /api/v1/evidence/public-key)');
  }
  if (trimmed.startsWith('{')) {
    // The reply of GET /api/v1/evidence/public-key, saved to a file.
    const parsed = JSON.parse(trimmed) as { publicKey?: unknown };
    if (typeof parsed.publicKey !== 'string') throw new KeyError('the JSON has no "publicKey"');
    return rawFromDer(fromBase64(parsed.publicKey));
  }
  const pem = trimmed.match(/-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/);
  if (pem) return rawFromDer(fromBase64(pem[1] as string));
  if (!/^[A-Za-z0-9+/=\s]+$/.test(trimmed)) throw new KeyError('not PEM, JSON or base64');
  return rawFromDer(fromBase64(trimmed));
}

/** The raw 32-byte Ed25519 key named by `--public-key`: a file's path, or the key itself in base64. */
export function readPublicKey(argument: string): Uint8Array<ArrayBuffer> {
  if (existsSync(argument)) {
    const bytes = readFileSync(argument);
    const text = bytes.toString('utf8');
    // Text (PEM, JSON, base64) is printable; anything else is a binary key file.
    if (bytes.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e))) {
      return rawFromText(text);
    }
    return rawFromDer(bytes);
  }
  try {
    return rawFromText(argument);
  } catch (error) {
    if (error instanceof KeyError) throw new KeyError(`--public-key is neither a file nor a key: ${error.message}`);
    throw error;
  }
}
