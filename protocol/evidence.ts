/**
 * Evidence format, version 1 (docs/evidence.md): the hash chain over a session's media pieces, the manifest
 * that is signed when the session is sealed, its canonical serialisation and its Ed25519 signature.
 * One implementation for SessionDO (workerd) and `witness verify` (Node 22): WebCrypto only, no Node APIs.
 */
import { z } from 'zod';
import { fromHex, hex } from './hex.ts';
import { EndReason, Policy, Protocol, RecordingStatus } from './session.ts';

/**
 * 2: the sealed recording holds every piece verbatim (protocol/sealed-webm.ts; a `.cast` is the pieces back to
 * back), so it can be checked against the chain without the pieces. 1: the recording was remuxed; only the
 * pieces themselves can be checked against the chain.
 */
export const MANIFEST_VERSION = 2 as const;
/** Domain separation for the chain's starting link; the session id follows it. */
export const CHAIN_DOMAIN = 'witness-chain-v1:';
export const SIGNATURE_ALGORITHM = 'Ed25519';

/** R2 key of a session's signed manifest (beside `recording.webm`). */
export function manifestKey(sessionId: string): string {
  return `sessions/${sessionId}/manifest.json`;
}

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'not a lowercase hex SHA-256');
const IsoTime = z.iso.datetime();
const Count = z.number().int().min(0);

export const ManifestPiece = z.strictObject({
  seq: Count,
  size: Count,
  sha256: Sha256Hex,
  startMs: Count,
  endMs: Count,
  keyframe: z.boolean(),
});
export type ManifestPiece = z.infer<typeof ManifestPiece>;

export const Manifest = z.strictObject({
  version: z.union([z.literal(1), z.literal(MANIFEST_VERSION)]),
  sessionId: z.string().min(1),
  user: z.string(),
  target: z.string(),
  protocol: Protocol,
  policy: Policy,
  createdAt: IsoTime,
  startedAt: IsoTime.nullable(),
  endedAt: IsoTime.nullable(),
  endReason: EndReason.nullable(),
  recordingStatus: RecordingStatus,
  /** Every stored piece, in ascending `seq`. */
  pieces: z.array(ManifestPiece),
  /** Inclusive ranges of `seq` in 0..lastSeq that never arrived. */
  missing: z.array(z.strictObject({ from: Count, to: Count })),
  /** Highest seq stored or declared by the launcher's `end`; null when there was none. */
  lastSeq: Count.nullable(),
  /** `chainHead(sessionId, pieces)`, lowercase hex. */
  chainHead: Sha256Hex,
  /** The sealed, seekable file as stored; null when there is none (recording off, empty, or sealing failed). */
  recording: z.strictObject({ key: z.string(), size: Count, sha256: Sha256Hex, mediaDurationMs: Count }).nullable(),
  /** Why sealing failed, when it did. */
  recordingError: z.string().nullable(),
  /** `activityDigest(events)` of the session's activity events. */
  activity: z.strictObject({ events: Count, sha256: Sha256Hex }),
  signedAt: IsoTime,
  /** `keyIdOf(raw public key)` of the key that signed. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
});
export type Manifest = z.infer<typeof Manifest>;

/** What `sessions/{id}/manifest.json` holds and `GET /api/v1/sessions/{id}/manifest` returns. */
export const SignedManifest = z.strictObject({
  manifest: Manifest,
  /** Ed25519 signature over `canonicalJson(manifest)` as UTF-8, base64. */
  signature: z.string().min(1),
  /** The signer's raw 32-byte public key, base64. A convenience: never trust it on its own. */
  publicKey: z.string().min(1),
});
export type SignedManifest = z.infer<typeof SignedManifest>;

/** `GET /api/v1/evidence/public-key`. */
export const PublicKeyReply = z.strictObject({
  algorithm: z.literal(SIGNATURE_ALGORITHM),
  keyId: z.string(),
  /** Raw 32-byte public key, base64. */
  publicKey: z.string(),
  /** The same key as SubjectPublicKeyInfo PEM (what `openssl pkey -pubin` reads). */
  pem: z.string(),
});
export type PublicKeyReply = z.infer<typeof PublicKeyReply>;

/**
 * Canonical JSON: RFC 8785 (JCS) restricted to what manifests hold. Object keys sorted by UTF-16 code units,
 * no whitespace, strings escaped as JSON.stringify does, `null`, booleans, and safe integers only (a float
 * or undefined throws, so no implementation can disagree on number formatting).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonical JSON holds safe integers only, not ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot hold ${typeof value}`);
}

/** `hex` under its former name: durable/evidence.ts and durable/seal.ts still import it from here. */

export function toBase64(bytes: ArrayBuffer | Uint8Array): string {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(base64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(base64.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
}

/** UTF-8 bytes, typed as WebCrypto wants them in every runtime's type definitions. */
function utf8(text: string): Uint8Array<ArrayBuffer> {
  const encoded = new TextEncoder().encode(text);
  return new Uint8Array(encoded.buffer as ArrayBuffer, encoded.byteOffset, encoded.byteLength);
}

export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? utf8(data) : data));
}

/** link(-1) = SHA-256(UTF-8("witness-chain-v1:" + sessionId)). */
export function chainGenesis(sessionId: string): Promise<string> {
  return sha256Hex(`${CHAIN_DOMAIN}${sessionId}`);
}

/** link(seq) = SHA-256(previous link ‖ piece SHA-256 ‖ seq as unsigned 64-bit big-endian), all raw bytes. */
export function chainLink(previous: string, pieceSha256: string, seq: number): Promise<string> {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`bad seq ${seq}`);
  const input = new Uint8Array(32 + 32 + 8);
  input.set(fromHex(previous), 0);
  input.set(fromHex(pieceSha256), 32);
  new DataView(input.buffer).setBigUint64(64, BigInt(seq));
  return sha256Hex(input);
}

/**
 * The chain head over the pieces present, in ascending seq. A missing seq contributes no link: the next
 * present piece links to the last present one, and its own seq in the link fixes where the hole was.
 */
export async function chainHead(
  sessionId: string,
  pieces: ReadonlyArray<{ seq: number; sha256: string }>,
  from: { head: string; through: number } | null = null,
): Promise<string> {
  let head = from?.head ?? (await chainGenesis(sessionId));
  let previousSeq = from?.through ?? -1;
  for (const piece of pieces) {
    if (piece.seq <= previousSeq) throw new RangeError(`pieces out of order at seq ${piece.seq}`);
    head = await chainLink(head, piece.sha256, piece.seq);
    previousSeq = piece.seq;
  }
  return head;
}

/**
 * Digest of the session's activity events: SHA-256 of their canonical JSON Lines (each event's
 * `canonicalJson` followed by "\n") in the order the activity API returns them. No events: SHA-256("").
 */
export function activityDigest(events: readonly unknown[]): Promise<string> {
  return sha256Hex(events.map((event) => `${canonicalJson(event)}\n`).join(''));
}

/** keyId = first 16 hex digits of SHA-256(raw 32-byte public key). */
export async function keyIdOf(rawPublicKey: Uint8Array<ArrayBuffer>): Promise<string> {
  return (await sha256Hex(rawPublicKey)).slice(0, 16);
}

/** Base64 of DER inside PEM armour, or bare base64: the DER bytes. */
export function derFromPemOrBase64(text: string): Uint8Array<ArrayBuffer> {
  return fromBase64(text.replace(/-----[A-Z ]+-----/g, ''));
}

/** WebCrypto's key type, named without DOM or Workers globals so Node's types accept it too. */
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export interface SigningKey {
  privateKey: WebCryptoKey;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array<ArrayBuffer>;
  keyId: string;
}

/** Imports WITNESS_SIGNING_KEY: an Ed25519 PKCS#8 private key, base64 DER or PEM. */
export async function importSigningKey(secret: string): Promise<SigningKey> {
  const privateKey = await crypto.subtle.importKey('pkcs8', derFromPemOrBase64(secret), SIGNATURE_ALGORITHM, true, [
    'sign',
  ]);
  // WebCrypto cannot derive a public key from a private one, but the private key's JWK carries it as `x`.
  const jwk = (await crypto.subtle.exportKey('jwk', privateKey)) as { x?: string };
  if (!jwk.x) throw new Error('the signing key did not yield its public key');
  const publicKey = fromBase64(jwk.x.replace(/-/g, '+').replace(/_/g, '/'));
  return { privateKey, publicKey, keyId: await keyIdOf(publicKey) };
}

/** Imports a raw 32-byte Ed25519 public key for verification. */
export function importVerifyKey(rawPublicKey: Uint8Array<ArrayBuffer>): Promise<WebCryptoKey> {
  if (rawPublicKey.byteLength !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return crypto.subtle.importKey('raw', rawPublicKey, SIGNATURE_ALGORITHM, true, ['verify']);
}

/** The key's SubjectPublicKeyInfo as PEM. */
export async function publicKeyPem(rawPublicKey: Uint8Array<ArrayBuffer>): Promise<string> {
  const spki = toBase64((await crypto.subtle.exportKey('spki', await importVerifyKey(rawPublicKey))) as ArrayBuffer);
  const lines = spki.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/** Signs a manifest whose `keyId` and `signedAt` are already filled in. */
export async function signManifest(manifest: Manifest, key: SigningKey): Promise<SignedManifest> {
  if (manifest.keyId !== key.keyId) throw new Error('the manifest names another key');
  const signature = await crypto.subtle.sign(SIGNATURE_ALGORITHM, key.privateKey, utf8(canonicalJson(manifest)));
  return { manifest, signature: toBase64(signature), publicKey: toBase64(key.publicKey) };
}

/**
 * True when `signature` is `rawPublicKey`'s Ed25519 signature over the canonical form of `manifest`.
 * `manifest` is taken as parsed JSON, unvalidated: any added, removed or changed field breaks the signature.
 */
export async function manifestSignatureValid(
  manifest: unknown,
  signature: string,
  rawPublicKey: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  let canonical: Uint8Array<ArrayBuffer>;
  let signatureBytes: Uint8Array<ArrayBuffer>;
  try {
    canonical = utf8(canonicalJson(manifest));
    signatureBytes = fromBase64(signature);
  } catch {
    return false;
  }
  return crypto.subtle.verify(SIGNATURE_ALGORITHM, await importVerifyKey(rawPublicKey), signatureBytes, canonical);
}
