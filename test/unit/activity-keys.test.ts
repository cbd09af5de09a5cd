/** Keystrokes without a display: keysyms to text, modifier tracking, runs, redaction; X11 helpers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CapturedKeys } from '../../agents/launcher/src/capture/capture.ts';
import {
  KeyboardState,
  keysymToChar,
  keyToken,
  NO_MODIFIERS,
  specialKeyName,
} from '../../agents/launcher/src/capture/keysyms.ts';
import {
  type FocusedWindow,
  isPasswordPrompt,
  KeystrokeRuns,
  RUN_PAUSE_MS,
} from '../../agents/launcher/src/capture/keystroke-runs.ts';
import { findCookie, parseDisplay } from '../../agents/launcher/src/capture/x11-connection.ts';
import { MAX_EVENT_TEXT } from '../../protocol/activity.ts';

const XK = {
  a: 0x61,
  A: 0x41,
  one: 0x31,
  exclam: 0x21,
  space: 0x20,
  Return: 0xff0d,
  Tab: 0xff09,
  ISO_Left_Tab: 0xfe20,
  BackSpace: 0xff08,
  Delete: 0xffff,
  Escape: 0xff1b,
  Left: 0xff51,
  F4: 0xffc1,
  F5: 0xffc2,
  Shift_L: 0xffe1,
  Control_L: 0xffe3,
  Alt_L: 0xffe9,
  Caps_Lock: 0xffe5,
  Num_Lock: 0xff7f,
  ISO_Level3_Shift: 0xfe03,
  KP_Home: 0xff95,
  KP_7: 0xffb7,
  KP_Enter: 0xff8d,
  c: 0x63,
  C: 0x43,
  e: 0x65,
  E: 0x45,
  EuroSign: 0x20ac,
  Cyrillic_a: 0x6c1,
} as const;

describe('keysyms', () => {
  it('maps Latin-1, Unicode and legacy keysyms to characters', () => {
    expect(keysymToChar(XK.a)).toBe('a');
    expect(keysymToChar(0xe9)).toBe('é');
    expect(keysymToChar(0x0100263a)).toBe('☺');
    expect(keysymToChar(XK.Cyrillic_a)).toBe('а');
    expect(keysymToChar(0x1b1)).toBe('ą'); // aogonek, Latin-2
    expect(keysymToChar(XK.EuroSign)).toBe('€');
    expect(keysymToChar(XK.KP_7)).toBe('7');
    expect(keysymToChar(XK.Return)).toBeNull();
    expect(keysymToChar(XK.Shift_L)).toBeNull();
  });

  it('spells out special keys', () => {
    expect(specialKeyName(XK.Return)).toBe('Enter');
    expect(specialKeyName(XK.BackSpace)).toBe('BackSpace');
    expect(specialKeyName(XK.Escape)).toBe('Esc');
    expect(specialKeyName(XK.F5)).toBe('F5');
    expect(specialKeyName(0xffe0)).toBe('F35');
    expect(specialKeyName(XK.a)).toBeNull();
  });

  it('turns a key press into a token with Shift, Caps Lock, chords, AltGr and the keypad', () => {
    const letter = [XK.a, XK.A];
    const m = (state: Partial<typeof NO_MODIFIERS>) => ({ ...NO_MODIFIERS, ...state });
    expect(keyToken(letter, NO_MODIFIERS)).toBe('a');
    expect(keyToken(letter, m({ shift: true }))).toBe('A');
    expect(keyToken(letter, m({ capsLock: true }))).toBe('A');
    expect(keyToken(letter, m({ capsLock: true, shift: true }))).toBe('a');
    // One keysym for both levels: X treats it as a case pair.
    expect(keyToken([XK.a], m({ shift: true }))).toBe('A');
    expect(keyToken([XK.one, XK.exclam], m({ shift: true }))).toBe('!');
    expect(keyToken([XK.one, XK.exclam], m({ capsLock: true }))).toBe('1');
    expect(keyToken([XK.space], NO_MODIFIERS)).toBe(' ');
    expect(keyToken([XK.Return], NO_MODIFIERS)).toBe('<Enter>');
    expect(keyToken([XK.Tab, XK.ISO_Left_Tab], m({ shift: true }))).toBe('<Shift+Tab>');
    expect(keyToken([XK.Left], m({ shift: true }))).toBe('<Shift+Left>');
    expect(keyToken([XK.c, XK.C], m({ ctrl: true }))).toBe('<Ctrl+C>');
    expect(keyToken([XK.c, XK.C], m({ ctrl: true, shift: true }))).toBe('<Ctrl+Shift+C>');
    expect(keyToken([XK.F4], m({ alt: true }))).toBe('<Alt+F4>');
    expect(keyToken([XK.space], m({ ctrl: true }))).toBe('<Ctrl+Space>');
    expect(keyToken([XK.Delete], m({ ctrl: true, alt: true }))).toBe('<Ctrl+Alt+Delete>');
    // AltGr picks levels 3 and 4 (indexes 4 and 5 of the core mapping).
    expect(keyToken([XK.e, XK.E, XK.e, XK.E, XK.EuroSign, 0], m({ altGr: true }))).toBe('€');
    // Num Lock: digits; without it the keypad moves the cursor.
    expect(keyToken([XK.KP_Home, XK.KP_7], m({ numLock: true }))).toBe('7');
    expect(keyToken([XK.KP_Home, XK.KP_7], NO_MODIFIERS)).toBe('<Home>');
    expect(keyToken([XK.KP_Enter], NO_MODIFIERS)).toBe('<Enter>');
    // Modifiers, locks and dead keys type nothing.
    expect(keyToken([XK.Shift_L], NO_MODIFIERS)).toBeNull();
    expect(keyToken([XK.Caps_Lock], NO_MODIFIERS)).toBeNull();
    expect(keyToken([0xfe51], NO_MODIFIERS)).toBeNull(); // dead_acute
    expect(keyToken([0x1008ff13], NO_MODIFIERS)).toBe('<0x1008ff13>'); // XF86AudioRaiseVolume
  });

  it('follows modifiers and locks across presses and releases', () => {
    // keycode 10.. with two keysyms each, like a core keyboard mapping.
    const rows = [
      [XK.a, XK.A],
      [XK.Shift_L, 0],
      [XK.Control_L, 0],
      [XK.c, XK.C],
      [XK.Caps_Lock, 0],
      [XK.Alt_L, 0],
      [XK.F4, 0],
      [XK.Return, 0],
    ];
    const keyboard = new KeyboardState({
      firstKeycode: 10,
      keysymsPerKeycode: 2,
      keysyms: Uint32Array.from(rows.flat()),
    });
    const [a, shift, ctrl, c, caps, alt, f4, enter] = rows.map((_, i) => 10 + i) as number[];
    const tap = (code: number) => {
      const token = keyboard.press(code as number);
      keyboard.release(code as number);
      return token;
    };
    expect(tap(a as number)).toBe('a');
    expect(keyboard.press(shift as number)).toBeNull();
    expect(tap(a as number)).toBe('A');
    keyboard.release(shift as number);
    expect(tap(a as number)).toBe('a');
    keyboard.press(ctrl as number);
    expect(tap(c as number)).toBe('<Ctrl+C>');
    keyboard.release(ctrl as number);
    expect(tap(caps as number)).toBeNull();
    expect(tap(a as number)).toBe('A');
    tap(caps as number);
    expect(tap(a as number)).toBe('a');
    keyboard.press(alt as number);
    expect(tap(f4 as number)).toBe('<Alt+F4>');
    keyboard.release(alt as number);
    expect(tap(enter as number)).toBe('<Enter>');
    expect(tap(99)).toBeNull(); // a keycode outside the mapping
    // A new mapping (a layout switch) applies from the next key.
    keyboard.setMapping({ firstKeycode: 10, keysymsPerKeycode: 1, keysyms: Uint32Array.from([XK.Cyrillic_a]) });
    expect(tap(a as number)).toBe('а');
  });
});

describe('keystroke runs', () => {
  afterEach(() => vi.useRealTimers());
  const xterm: FocusedWindow = { id: 1, title: 'alice@db-1: ~', app: 'XTerm', pid: 10 };
  const other: FocusedWindow = { id: 2, title: 'Mozilla Firefox', app: 'firefox' };
  const collect = () => {
    const runs: CapturedKeys[] = [];
    return { runs, builder: new KeystrokeRuns({ emit: (run) => runs.push(run) }) };
  };
  const type = (builder: KeystrokeRuns, tokens: string[], start: number, window: FocusedWindow | null, gap = 100) =>
    tokens.forEach((token, i) => {
      builder.key(token, start + i * gap, window);
    });

  it('joins keys into one run and ends it at a pause of 2 s', () => {
    const { runs, builder } = collect();
    type(builder, [...'ls -l', '<Enter>'], 1_000, xterm);
    // 1.999 s after the last key is still the same run...
    builder.key('x', 1_500 + RUN_PAUSE_MS - 1, xterm);
    // ...2 s is a pause.
    builder.key('y', 1_500 + RUN_PAUSE_MS - 1 + RUN_PAUSE_MS, xterm);
    builder.flush();
    expect(runs).toEqual([
      {
        type: 'keys',
        atMs: 1_000,
        endMs: 1_500 + RUN_PAUSE_MS - 1,
        text: 'ls -l<Enter>x',
        window: { title: 'alice@db-1: ~', app: 'XTerm' },
      },
      { type: 'keys', atMs: 5_499, endMs: 5_499, text: 'y', window: { title: 'alice@db-1: ~', app: 'XTerm' } },
    ]);
  });

  it('emits a run by itself 2 s after the last key', () => {
    vi.useFakeTimers();
    const { runs, builder } = collect();
    builder.key('a', Date.now(), xterm);
    vi.advanceTimersByTime(RUN_PAUSE_MS - 1);
    expect(runs).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(runs.map((r) => r.text)).toEqual(['a']);
  });

  it('ends a run when the focus moves or the title changes', () => {
    const { runs, builder } = collect();
    type(builder, ['v', 'i', '<Enter>'], 0, xterm);
    builder.focusChanged({ ...xterm }); // the same window: nothing happens
    type(builder, ['i', 'x'], 400, xterm);
    builder.focusChanged(other);
    type(builder, ['<Ctrl+L>', ...'example.org', '<Enter>'], 600, other);
    // Keys arriving with another window end the run too, without a focusChanged.
    type(builder, ['<Alt+F4>'], 2_000, { ...xterm, title: 'vim ~/notes' });
    builder.key('q', 2_100, null);
    builder.flush();
    expect(runs.map((r) => [r.text, r.window?.title])).toEqual([
      ['vi<Enter>ix', 'alice@db-1: ~'],
      ['<Ctrl+L>example.org<Enter>', 'Mozilla Firefox'],
      ['<Alt+F4>', 'vim ~/notes'],
      ['q', undefined],
    ]);
    expect(runs[3]).not.toHaveProperty('window');
  });

  it('redacts runs typed into password prompts', () => {
    const { runs, builder } = collect();
    const sudo = { id: 3, title: '[sudo] password for alice', app: 'XTerm' };
    const pinentry = { id: 4, title: 'Unlock OpenPGP key', app: 'Pinentry-gtk-2' };
    type(builder, [...'sudo -i', '<Enter>'], 0, xterm);
    builder.focusChanged(sudo);
    type(builder, [...'hunter2', '<Enter>'], 1_000, sudo);
    builder.focusChanged(pinentry);
    type(builder, [...'s3cret'], 2_000, pinentry);
    builder.flush();
    expect(runs.map((r) => [r.text, r.redacted])).toEqual([
      ['sudo -i<Enter>', undefined],
      ['<redacted>', true],
      ['<redacted>', true],
    ]);
    expect(runs[1]).toMatchObject({ atMs: 1_000, endMs: 1_700, window: { title: '[sudo] password for alice' } });
    expect(JSON.stringify(runs)).not.toMatch(/hunter2|s3cret/);
  });

  it('splits a run that would exceed the protocol text limit', () => {
    const { runs, builder } = collect();
    const chunk = 'x'.repeat(1_000);
    for (let i = 0; i < 70; i++) builder.key(chunk, i, xterm);
    builder.flush();
    expect(runs.length).toBe(2);
    expect(runs[0]?.text.length).toBeLessThanOrEqual(MAX_EVENT_TEXT);
    expect(runs.map((r) => r.text).join('')).toBe(chunk.repeat(70));
  });

  it('recognises password prompts by title or application', () => {
    const prompt = (title: string, app = 'XTerm') => isPasswordPrompt({ title, app });
    expect(prompt('[sudo] password for alice')).toBe(true);
    expect(prompt('Enter passphrase for key', 'Ssh-askpass')).toBe(true);
    expect(prompt('Authentication Required', 'Polkit-gnome-authentication-agent-1')).toBe(true);
    expect(prompt('Authenticate', 'Gcr-prompter')).toBe(true);
    expect(prompt('', 'pinentry')).toBe(true);
    expect(prompt('Passwort für alice')).toBe(true);
    expect(prompt('alice@db-1: ~')).toBe(false);
    expect(prompt('Mozilla Firefox', 'firefox')).toBe(false);
    expect(isPasswordPrompt(null)).toBe(false);
  });
});

describe('X11 connection helpers', () => {
  it('finds where a display listens', () => {
    expect(parseDisplay(':0')).toEqual({ path: '/tmp/.X11-unix/X0', number: '0' });
    expect(parseDisplay(':77.0')).toEqual({ path: '/tmp/.X11-unix/X77', number: '77' });
    expect(parseDisplay('unix:3')).toEqual({ path: '/tmp/.X11-unix/X3', number: '3' });
    expect(parseDisplay('10.0.0.5:10.0')).toEqual({ host: '10.0.0.5', port: 6010, number: '10' });
    expect(parseDisplay('nonsense')).toBeNull();
  });

  it("takes the display's MIT-MAGIC-COOKIE-1 from an .Xauthority file", () => {
    const field = (value: string | Buffer) => {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const entry = (family: number, address: string, number: string, cookie: Buffer) => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(family);
      return Buffer.concat([head, field(address), field(number), field('MIT-MAGIC-COOKIE-1'), field(cookie)]);
    };
    const other = Buffer.alloc(16, 1);
    const mine = Buffer.alloc(16, 2);
    const file = Buffer.concat([entry(256, 'host-a', '0', other), entry(256, 'host-a', '7', mine)]);
    expect(findCookie(file, '7', 'host-a')).toEqual(mine);
    expect(findCookie(file, '7', 'host-b')).toBeNull();
    expect(findCookie(Buffer.concat([file, entry(65535, '', '', other)]), '9', 'host-b')).toEqual(other);
    expect(findCookie(file.subarray(0, 10), '7', 'host-a')).toBeNull();
  });
});
