/**
 * The evidence format as docs/evidence.md defines it, recomputed independently with node:crypto, so that a
 * change to protocol/evidence.ts that the DO and the verifier would share still gets caught.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  activityDigest,
  canonicalJson,
  chainGenesis,
  chainHead,
  chainLink,
  importSigningKey,
  keyIdOf,
  publicKeyPem,
  toBase64,
} from '../../protocol/evidence.ts';

const sha256 = (...parts: Array<string | Buffer>) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

function u64be(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

describe('hash chain v1', () => {
  const session = '2f0c6a4e-1d1b-4c1e-9b55-0a4f5e8d9c31';
  const pieces = [0, 1, 2, 5, 6].map((seq) => ({ seq, sha256: sha256(`piece ${seq}`).toString('hex') }));

  it('genesis is SHA-256("witness-chain-v1:" + sessionId)', async () => {
    expect(await chainGenesis(session)).toBe(sha256(`witness-chain-v1:${session}`).toString('hex'));
  });

  it('link = SHA-256(previous link ‖ piece hash ‖ seq as u64 big-endian), holes skipped', async () => {
    let head = sha256(`witness-chain-v1:${session}`);
    for (const p of pieces) head = sha256(head, Buffer.from(p.sha256, 'hex'), u64be(p.seq));
    expect(await chainHead(session, pieces)).toBe(head.toString('hex'));
    expect(await chainLink('00'.repeat(32), 'ff'.repeat(32), 2 ** 40 + 3)).toBe(
      sha256(Buffer.alloc(32), Buffer.alloc(32, 0xff), u64be(2 ** 40 + 3)).toString('hex'),
    );
  });

  it('continues from saved progress exactly as from the start, and refuses pieces out of order', async () => {
    const prefix = await chainHead(session, pieces.slice(0, 3));
    expect(await chainHead(session, pieces.slice(3), { head: prefix, through: 2 })).toBe(
      await chainHead(session, pieces),
    );
    await expect(chainHead(session, [pieces[1]!, pieces[0]!])).rejects.toThrow(/out of order/);
  });
});

describe('canonical JSON', () => {
  it('sorts keys, drops whitespace, and writes only safe integers', () => {
    expect(canonicalJson({ b: [1, { d: null, c: true }], a: 'é"\n', A: -0 })).toBe(
      '{"A":0,"a":"é\\"\\n","b":[1,{"c":true,"d":null}]}',
    );
    expect(() => canonicalJson({ x: 1.5 })).toThrow();
    expect(() => canonicalJson({ x: undefined })).toThrow();
  });

  it('activity digest: SHA-256 of canonical JSON Lines; none is SHA-256 of nothing', async () => {
    expect(await activityDigest([])).toBe(sha256('').toString('hex'));
    expect(await activityDigest([{ t: 2, a: 'x' }, { b: 1 }])).toBe(
      sha256('{"a":"x","t":2}\n{"b":1}\n').toString('hex'),
    );
  });
});

describe('signing key', () => {
  it('imports PKCS#8 as base64 or PEM; keyId is the start of SHA-256(raw public key); signatures are plain Ed25519', async () => {
    const pair = generateKeyPairSync('ed25519');
    const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
    const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const raw = pair.publicKey.export({ type: 'spki', format: 'der' }).subarray(12);
    for (const secret of [der.toString('base64'), pem]) {
      const key = await importSigningKey(secret);
      expect(Buffer.from(key.publicKey)).toEqual(raw);
      expect(key.keyId).toBe(sha256(raw).toString('hex').slice(0, 16));
      expect(await keyIdOf(key.publicKey)).toBe(key.keyId);
    }
    const key = await importSigningKey(der.toString('base64'));
    const message = new TextEncoder().encode(canonicalJson({ hello: 'world' }));
    const signature = Buffer.from(await crypto.subtle.sign('Ed25519', key.privateKey, message));
    const spki = createPublicKey(await publicKeyPem(key.publicKey));
    expect(verify(null, message, spki, signature)).toBe(true);
    expect(toBase64(key.publicKey)).toBe(raw.toString('base64'));
  });
});
