/**
 * Outside text as the command-line tools print it: escapes shown, never sent to the terminal. The helper
 * itself, the launcher's (and SSH proxy's) log lines, and `witness verify` on an old manifest whose user is a
 * screen-clearing fake "VERIFIED".
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../agents/launcher/src/log.ts';
import { showEscapes } from '../../agents/shared/terminal-text.ts';
import { main } from '../../agents/verify/src/cli.ts';
import {
  activityDigest,
  chainHead,
  importSigningKey,
  Manifest,
  publicKeyPem,
  signManifest,
} from '../../protocol/evidence.ts';
import { identifierProblem } from '../../protocol/identifier.ts';
import { DEFAULT_POLICY } from '../../protocol/session.ts';

const ESC = '\u001b';
const FAKE_VERIFIED = `${ESC}[2J${ESC}[32mVERIFIED`;

/** True when `text` holds a character below U+0020 other than LF, DEL, or a C1 control. */
function hasRawControl(text: string): boolean {
  return Array.from(text).some((c) => {
    const code = c.codePointAt(0) ?? 0;
    return (code < 0x20 && c !== '\n') || (code >= 0x7f && code <= 0x9f);
  });
}

describe('showEscapes', () => {
  it.each([
    ['NUL', 'a\u0000b', 'a\\x00b'],
    ['BEL', 'ding\u0007', 'ding\\x07'],
    ['ESC[2J', FAKE_VERIFIED, '\\x1b[2J\\x1b[32mVERIFIED'],
    ['CR and LF', 'alice\r\nVERIFIED', 'alice\\r\\nVERIFIED'],
    ['TAB', 'a\tb', 'a\\tb'],
    ['DEL', 'x\u007f', 'x\\x7f'],
    ['a C1 CSI', 'x\u009b2J', 'x\\u{9b}2J'],
    ['U+202E', 'invoice\u202efdp.exe', 'invoice\\u{202e}fdp.exe'],
    ['bidi isolates and marks', '\u2066a\u2069\u200f\u061c', '\\u{2066}a\\u{2069}\\u{200f}\\u{61c}'],
    ['zero-width characters', 'a\u200bb\u200cc\u200dd\ufeff', 'a\\u{200b}b\\u{200c}c\\u{200d}d\\u{feff}'],
    ['line separators', 'a\u2028b\u2029', 'a\\u{2028}b\\u{2029}'],
    ['a tag character', 'x\u{e0041}', 'x\\u{e0041}'],
    ['a lone surrogate', 'x\ud800', 'x\\u{d800}'],
  ])('shows %s', (_kind, raw, shown) => {
    expect(showEscapes(raw)).toBe(shown);
  });

  it('leaves printable text alone, in any script', () => {
    for (const text of ['alice → db-01.prod', 'José Müller', '日本', 'משתמש', 'dev 🚀 ❤️', 'C:\\Users\\x "q"']) {
      expect(showEscapes(text)).toBe(text);
    }
  });

  it('shows every character a name may not hold', () => {
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCodePoint(code);
      // As a name, between ASCII letters (where joiners are refused too).
      const refused = identifierProblem(`a${char}b`) !== null;
      if (refused) expect(showEscapes(char), `U+${code.toString(16)}`).not.toBe(char);
    }
  });
});

describe('log lines of the launcher and the SSH proxy', () => {
  it('are one line each, stamped with the UTC time, with the escapes in an administrator message or a login name shown', () => {
    const lines: string[] = [];
    const now = () => new Date(Date.UTC(2026, 11, 3, 14, 20, 1, 123));
    const log = createLogger({ verbose: true, write: (line) => lines.push(line), now });
    log.info(`Message from administrator: ${FAKE_VERIFIED}\r\n[witness] all clear`);
    log.warn(`"root\u202e" refused`);
    expect(lines).toEqual([
      '2026-12-03T14:20:01.123Z [witness] Message from administrator: \\x1b[2J\\x1b[32mVERIFIED\\r\\n[witness] all clear',
      '2026-12-03T14:20:01.123Z [witness] warning: "root\\u{202e}" refused',
    ]);
  });
});

describe('witness verify on a manifest stored before names were checked', () => {
  const root = mkdtempSync(join(tmpdir(), 'witness-terminal-text-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function evidence(user: string, target: string): Promise<{ manifest: string; key: string; id: string }> {
    const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' });
    const key = await importSigningKey(pkcs8.toString('base64'));
    const id = crypto.randomUUID();
    // Version 1, no recording and no pieces: valid evidence of a session that recorded nothing.
    const manifest = Manifest.parse({
      version: 1,
      sessionId: id,
      user,
      target,
      protocol: 'ssh',
      policy: DEFAULT_POLICY,
      createdAt: '2026-11-27T10:00:00.000Z',
      startedAt: null,
      endedAt: '2026-11-27T10:00:05.000Z',
      endReason: 'launch_expired',
      recordingStatus: 'empty',
      pieces: [],
      missing: [],
      lastSeq: null,
      chainHead: await chainHead(id, []),
      recording: null,
      recordingError: null,
      activity: { events: 0, sha256: await activityDigest([]) },
      signedAt: '2026-11-27T10:00:06.000Z',
      keyId: key.keyId,
    } satisfies Manifest);
    const dir = mkdtempSync(join(root, 'case-'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(await signManifest(manifest, key)));
    writeFileSync(join(dir, 'public-key.pem'), await publicKeyPem(key.publicKey));
    return { manifest: join(dir, 'manifest.json'), key: join(dir, 'public-key.pem'), id };
  }

  async function verify(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['verify', ...args], { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('prints the user and target with their escapes visible, and no ESC byte', async () => {
    const { manifest, key, id } = await evidence(FAKE_VERIFIED, 'db-01\r\n  ok    signature  forged\u202e');
    const { code, out, err } = await verify(['--manifest', manifest, '--public-key', key]);
    expect(code).toBe(0);
    // The only thing on stderr is the note of what was not checked (no pieces, no activity given), escape-free.
    expect(err).toMatch(/Not checked: the activity/);
    expect(err).not.toContain(ESC);
    expect(hasRawControl(err.replaceAll('\n', ''))).toBe(false);
    expect(out).not.toContain(ESC);
    expect(hasRawControl(out)).toBe(false);
    expect(out).toContain(
      `session ${id}: \\x1b[2J\\x1b[32mVERIFIED → db-01\\r\\n  ok    signature  forged\\u{202e} (ssh)`,
    );
    // Only the verdict line says VERIFIED at the start of a line; the name's copy is inside the session line.
    expect(out.split('\n').filter((line) => line.startsWith('VERIFIED'))).toEqual(['VERIFIED']);
  });

  it('fails honestly, the fake verdict in the name shown as text', async () => {
    const { manifest, key } = await evidence(`${FAKE_VERIFIED}\n`, 'db-01');
    const { code, out } = await verify(['--manifest', manifest, '--public-key', key, '--session', 'another']);
    expect(code).toBe(1);
    expect(out).not.toContain(ESC);
    expect(out).toContain('\\x1b[2J\\x1b[32mVERIFIED\\n → db-01');
    expect(out.trimEnd().split('\n').at(-1)).toBe('NOT VERIFIED: 1 check failed');
    expect(out.split('\n').some((line) => line.startsWith('VERIFIED'))).toBe(false);
  });
});
