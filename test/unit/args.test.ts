import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CODEC, DEFAULT_FPS, defaultSpoolRoot, parseCli, UsageError } from '../../agents/launcher/src/args.ts';

const base = ['--server', 'http://127.0.0.1:8787/', '--session', 'sess-1', '--token', 'tok'];

describe('parseCli', () => {
  it('parses record with defaults', () => {
    const command = parseCli(['record', ...base], { XDG_CACHE_HOME: '/cache' });
    expect(command).toEqual({
      kind: 'record',
      session: 'sess-1',
      token: 'tok',
      recording: {
        server: 'http://127.0.0.1:8787',
        source: process.platform === 'win32' ? 'gdigrab' : process.platform === 'darwin' ? 'avfoundation' : 'x11',
        display: undefined,
        fps: DEFAULT_FPS,
        seconds: undefined,
        codec: DEFAULT_CODEC,
        spoolRoot: join('/cache', 'witness', 'spool'),
        drainTimeoutMs: 60_000,
        connectTimeoutMs: 120_000,
        verbose: false,
        command: [],
      },
    });
  });

  it('parses every recording option and the recorded command verbatim', () => {
    const command = parseCli([
      'record',
      ...base,
      '--source',
      'testsrc',
      '--display',
      ':77',
      '--fps',
      '2.5',
      '--seconds',
      '4',
      '--codec',
      'vp8',
      '--spool',
      '/tmp/s',
      '--drain-timeout',
      '5',
      '--connect-timeout',
      '7',
      '--verbose',
      '--',
      'ssh',
      '-p',
      '22',
      '--',
      'host',
    ]);
    expect(command.kind).toBe('record');
    if (command.kind !== 'record') return;
    expect(command.recording).toMatchObject({
      source: 'testsrc',
      display: ':77',
      fps: 2.5,
      seconds: 4,
      codec: 'vp8',
      spoolRoot: '/tmp/s',
      drainTimeoutMs: 5000,
      connectTimeoutMs: 7000,
      verbose: true,
      command: ['ssh', '-p', '22', '--', 'host'],
    });
  });

  it('parses launch', () => {
    const command = parseCli([
      'launch',
      '--server',
      'https://witness.example',
      '--api-key',
      'k',
      '--user',
      'alice',
      '--target',
      'db-1',
      '--protocol',
      'ssh',
      '--seconds',
      '10',
    ]);
    expect(command).toMatchObject({ kind: 'launch', apiKey: 'k', user: 'alice', target: 'db-1', protocol: 'ssh' });
    if (command.kind === 'launch') expect(command.recording.seconds).toBe(10);
  });

  it('handles --help and --version', () => {
    expect(parseCli(['--help'])).toEqual({ kind: 'help' });
    expect(parseCli(['record', '-h'])).toEqual({ kind: 'help' });
    expect(parseCli(['--version'])).toEqual({ kind: 'version' });
  });

  const refused: [string, string[], RegExp][] = [
    ['no command', [], /missing command/],
    ['unknown command', ['play', ...base], /unknown command "play"/],
    ['unknown option', ['record', ...base, '--colour', 'red'], /colour/],
    ['missing token', ['record', '--server', 'http://x', '--session', 's'], /--token is required/],
    ['missing server', ['record', '--session', 's', '--token', 't'], /--server is required/],
    ['bad server', ['record', ...base.slice(2), '--server', 'ftp://x'], /--server must be an http/],
    ['bad source', ['record', ...base, '--source', 'vnc'], /--source must be one of/],
    ['bad codec', ['record', ...base, '--codec', 'h264'], /--codec must be vp8 or vp9/],
    ['zero fps', ['record', ...base, '--fps', '0'], /--fps must be above 0/],
    ['text fps', ['record', ...base, '--fps', 'fast'], /--fps/],
    ['too many fps', ['record', ...base, '--fps', '120'], /--fps must be at most 60/],
    ['negative seconds', ['record', ...base, '--seconds', '-3'], /--seconds/],
    ['option value missing', ['record', ...base, '--fps'], /--fps/],
    ['launch option on record', ['record', ...base, '--api-key', 'k'], /--api-key is not an option of "record"/],
    [
      'record option on launch',
      ['launch', '--server', 'http://x', '--api-key', 'k', '--user', 'u', '--target', 't', '--token', 'x'],
      /--token is not an option of "launch"/,
    ],
    ['missing user', ['launch', '--server', 'http://x', '--api-key', 'k', '--target', 't'], /--user is required/],
    [
      'bad protocol',
      ['launch', '--server', 'http://x', '--api-key', 'k', '--user', 'u', '--target', 't', '--protocol', 'telnet'],
      /--protocol/,
    ],
    ['unsafe session id', ['record', '--server', 'http://x', '--session', '../etc', '--token', 't'], /--session/],
    ['stray positional', ['record', ...base, 'bash'], /put the recorded program after --/],
    ['empty command', ['record', ...base, '--'], /nothing to record/],
  ];
  for (const [name, argv, message] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => parseCli(argv)).toThrow(UsageError);
      expect(() => parseCli(argv)).toThrow(message);
    });
  }
});

describe('defaultSpoolRoot', () => {
  it('uses XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultSpoolRoot({ XDG_CACHE_HOME: '/x' }, 'linux')).toBe(join('/x', 'witness', 'spool'));
    expect(defaultSpoolRoot({}, 'linux')).toMatch(/\.cache[/\\]witness[/\\]spool$/);
    expect(defaultSpoolRoot({ LOCALAPPDATA: 'C:/Users/a/AppData/Local' }, 'win32')).toBe(
      join('C:/Users/a/AppData/Local', 'witness', 'spool'),
    );
  });
});
