/**
 * Lowercase hex, as every digest Witness writes or compares is spelled: evidence chains and manifests, stored
 * files' SHA-256, API key and token digests, the restart key's HMAC.
 */

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The bytes `text` spells in lowercase hex; throws on anything else. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) throw new TypeError('not lowercase hex');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
