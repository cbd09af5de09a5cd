import { describe, expect, it } from 'vitest';
import type { HeldEvent } from '../../agents/ssh-proxy/src/cast.ts';
import { alternateScreen, redactHeld, secretsIn } from '../../agents/ssh-proxy/src/typed-lines.ts';

/** One event per key, echoed, as a shell's line editor would. */
function typedKeyByKey(keys: string, echo: (key: string) => string = (k) => k): HeldEvent[] {
  return [...keys].flatMap((key, i) => [
    { ms: i * 10, code: 'i' as const, data: key },
    { ms: i * 10 + 1, code: 'o' as const, data: echo(key) },
  ]);
}

describe('secrets on a typed line', () => {
  it('finds each secret with its marker, and none on a plain line', () => {
    expect(secretsIn('ls -l')).toEqual([]);
    expect(secretsIn('mysql -pS3cret -e x; export API_TOKEN=abc123 ok')).toEqual([
      { value: 'S3cret', marker: '<redacted:password>' },
      { value: 'abc123', marker: '<redacted:secret-assignment>' },
    ]);
  });

  it('puts the marker in the event of the first character, drops the rest of the secret, keeps the times', () => {
    const events = typedKeyByKey('mysql -pab9\r');
    const { events: out, replaced } = redactHeld(events, secretsIn('mysql -pab9') ?? []);
    expect(replaced).toBe(2);
    const input = out.filter((e) => e.code === 'i');
    expect(input.map((e) => e.data).join('')).toBe('mysql -p<redacted:password>\r');
    const marker = input.find((e) => e.data === '<redacted:password>');
    expect(marker?.ms).toBe(80);
    expect(
      out
        .filter((e) => e.code === 'o')
        .map((e) => e.data)
        .join(''),
    ).not.toContain('ab9');
    expect(out.map((e) => e.ms)).toEqual([...out.map((e) => e.ms)].sort((a, b) => a - b));
  });

  it('replaces a secret typed with a key rubbed out, from its first character to its last', () => {
    // "S3cx<BackSpace>ret": the line editor ends with -pS3cret; the echo rubs out with "\b \b".
    const events = typedKeyByKey('mysql -pS3cx\x7fret\r', (k) => (k === '\x7f' ? '\b \b' : k));
    const { events: out } = redactHeld(events, secretsIn('mysql -pS3cret') ?? []);
    const text = (code: string) =>
      out
        .filter((e) => e.code === code)
        .map((e) => e.data)
        .join('');
    expect(text('i')).toBe('mysql -p<redacted:password>\r');
    expect(text('o')).toBe('mysql -p<redacted:password>\r');
  });

  it('leaves output that never showed the secret (echo off) as it was', () => {
    const events: HeldEvent[] = [
      { ms: 0, code: 'i', data: 'TOKEN=zz9\r' },
      { ms: 5, code: 'o', data: 'done\r\n' },
    ];
    const { events: out } = redactHeld(events, secretsIn('TOKEN=zz9') ?? []);
    expect(out).toEqual([
      { ms: 0, code: 'i', data: 'TOKEN=<redacted:secret-assignment>\r' },
      { ms: 5, code: 'o', data: 'done\r\n' },
    ]);
  });
});

describe('full-screen programs', () => {
  it('tells when output switches to the alternate screen and back, by its last switch', () => {
    expect(alternateScreen(Buffer.from('plain text\r\n'))).toBeNull();
    expect(alternateScreen(Buffer.from('\x1b[?1049h\x1b[H~\r\n~'))).toBe(true);
    expect(alternateScreen(Buffer.from('\x1b[?1049h…\x1b[?1049l$ '))).toBe(false);
    expect(alternateScreen(Buffer.from('\x1b[?47l…\x1b[?1047h'))).toBe(true);
  });
});
