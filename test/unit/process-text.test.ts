/**
 * A process's names and arguments as event text: faithful (bash reads a command line back to the very bytes),
 * safe (no control character, escape sequence, bidi override or half of an invalid byte left raw), bounded,
 * and redacted.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  argvOf,
  commandLineOf,
  decodeBytes,
  formatCommandLine,
  visibleName,
} from '../../agents/launcher/src/capture/process-text.ts';
import { MAX_EVENT_TEXT } from '../../protocol/activity.ts';
import { HIDDEN_CHARACTERS } from '../../protocol/identifier.ts';

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** What bash makes of a command line: each word's bytes. */
function bashWords(line: string): Buffer[] {
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${line.slice(line.indexOf(' ') + 1)}`], {
    env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' },
  });
  const words = [];
  for (let start = 0; start < out.length; ) {
    const end = out.indexOf(0, start);
    words.push(out.subarray(start, end));
    start = end + 1;
  }
  return words;
}

describe('process text', () => {
  it('keeps invalid UTF-8 byte by byte and decodes the rest', () => {
    expect(decodeBytes(bytes('ok'))).toBe('ok');
    expect(decodeBytes(bytes('é✓'))).toBe('é✓');
    // A lone continuation byte, a truncated sequence, an overlong '/', an encoded surrogate, beyond U+10FFFF.
    const bad = bytes([0x80], 'a', [0xe2, 0x9c], 'b', [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]);
    expect(visibleName(decodeBytes(bad))).toBe(String.raw`\x80a\xe2\x9cb\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80`);
  });

  it('shows names and paths with their escapes, and a backslash doubled only where escapes are', () => {
    expect(visibleName('/usr/bin/a\\b')).toBe('/usr/bin/a\\b');
    expect(visibleName('\x1b]0;pwned\x07\\')).toBe(String.raw`\e]0;pwned\x07\\`);
    expect(visibleName('evil\u202etxt.exe')).toBe(String.raw`evil\u202etxt.exe`);
    expect(visibleName('x'.repeat(10_000))).toHaveLength(4096);
  });

  it('writes command lines bash reads back to the same bytes', () => {
    const argv = [
      bytes('/bin/prog'),
      bytes('plain'),
      bytes('two words'),
      bytes("it's"),
      bytes('\x1b[31mred\x1b[0m'),
      bytes('tab\there\nnewline'),
      bytes([0xff, 0xfe], '-bytes'),
      bytes('rtl\u202eevil'),
      bytes('back\\slash'),
      bytes("quote'\x07"),
      bytes(''),
      bytes('✓ ünïcode'),
    ];
    const cmdline = Buffer.concat(argv.flatMap((arg) => [arg, Buffer.from([0])]));
    const line = formatCommandLine(argvOf(cmdline));
    HIDDEN_CHARACTERS.lastIndex = 0;
    expect(HIDDEN_CHARACTERS.test(line)).toBe(false);
    expect(bashWords(line)).toEqual(argv.slice(1));
  });

  it('drops the padding a retitled program leaves, not arguments that are empty', () => {
    expect(argvOf(bytes('sshd: alice [priv]', [0, 0, 0, 0, 0, 0]))).toEqual(['sshd: alice [priv]']);
    expect(argvOf(bytes('a', [0], '', [0], 'b', [0]))).toEqual(['a', '', 'b']);
    expect(argvOf(bytes('no-terminator'))).toEqual(['no-terminator']);
    expect(argvOf(bytes())).toEqual([]);
  });

  it('redacts before it escapes and cuts, and says where it cut', () => {
    const line = commandLineOf(['mysql', '-p\x1bsecret', '--password', 'pw\x07', 'TOKEN=abc\x1b'], 'mysql', 60);
    expect(line).toBe(`mysql -p<redacted:password> --password <redacted:password> TOKEN=<redacted:secret-assignment>`);
    const long = commandLineOf(['cat', '✓'.repeat(MAX_EVENT_TEXT)], 'cat', 3 * MAX_EVENT_TEXT + 5);
    expect(long.length).toBeLessThanOrEqual(MAX_EVENT_TEXT);
    expect(long).toMatch(/^cat ✓+ \[cut: the command line is 196613 bytes\]$/);
    const partial = commandLineOf(['cat', 'short'], 'cat', 1_000_000, false);
    expect(partial).toBe('cat short [cut: the command line is 1000000 bytes]');
    expect(commandLineOf([], 'kworker\x1b', 0)).toBe(String.raw`[kworker\e]`);
  });
});
