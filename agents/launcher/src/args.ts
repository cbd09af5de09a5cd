/** Command line of `witness-launcher`: node:util parseArgs for the syntax, zod for the values. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Protocol } from '../../../protocol/session.ts';

export const SOURCES = ['x11', 'testsrc', 'gdigrab', 'ddagrab', 'avfoundation'] as const;
export type Source = (typeof SOURCES)[number];
export const CODECS = ['vp8', 'vp9'] as const;
export type Codec = (typeof CODECS)[number];

/** Chosen from measurements on an Xvfb desktop at 1 fps (docs/launcher.md, "Codec"). */
export const DEFAULT_CODEC: Codec = 'vp9';
export const DEFAULT_FPS = 1;
export const DEFAULT_DRAIN_TIMEOUT_S = 60;
/** How long a start waits for the server's control socket, retrying, before it gives up. */
export const DEFAULT_CONNECT_TIMEOUT_S = 120;

export const USAGE = `Usage:
  witness-launcher record --server URL --session ID --token TOKEN [recording options] [-- command args...]
  witness-launcher launch --server URL --api-key KEY --user U --target T [--protocol P]
                          [recording options] [-- command args...]

Recording options:
  --source x11|testsrc|gdigrab|ddagrab|avfoundation   screen source (default: x11 on Linux,
                                                      gdigrab on Windows, avfoundation on macOS)
  --display D        what to capture: X display (:0), gdigrab input (desktop), ddagrab output index (0),
                     avfoundation screen device ("Capture screen 0")
  --fps N            frames per second (default ${DEFAULT_FPS})
  --seconds N        stop after N seconds
  --codec vp8|vp9    video codec (default ${DEFAULT_CODEC})
  --spool DIR        spool root; pieces wait in DIR/<session> until stored
                     (default $XDG_CACHE_HOME/witness/spool or ~/.cache/witness/spool)
  --connect-timeout N  at the start, keep trying to reach the server for N s (default ${DEFAULT_CONNECT_TIMEOUT_S})
  --drain-timeout N    after the end, keep retrying uploads for N s (default ${DEFAULT_DRAIN_TIMEOUT_S})
  --verbose          log every piece and reconnect
  --help, --version

Examples:
  witness-launcher launch --server https://witness.example.com --api-key KEY --user alice \\
    --target db-01.prod --source x11 --display :0 -- xterm      # records while xterm runs
  witness-launcher launch --server http://127.0.0.1:8787 --api-key KEY --user alice --target demo \\
    --source testsrc --seconds 20                               # no display: ffmpeg's test pattern
  witness-launcher record --server URL --session ID --token TOKEN --source x11 --display :0
                                                                # a launch made by a vault

Prints "session <id>" on stdout; diagnostics go to stderr. Exit codes: 0 recorded and uploaded; 1 bad arguments,
a refused launch or no control socket; 3 terminated by an administrator; 4 ended by the server (inactivity,
maximum length); 5 pieces or activity not stored in time or refused (kept in the spool, named); 6 ffmpeg failed.
More: docs/launcher.md.`;

/** Thrown for anything wrong on the command line; the CLI prints it with the usage and exits 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface RecordingOptions {
  server: string;
  source: Source;
  display: string | undefined;
  fps: number;
  seconds: number | undefined;
  codec: Codec;
  spoolRoot: string;
  drainTimeoutMs: number;
  /** Waiting for the first welcome on the control socket, retrying, at most this long. */
  connectTimeoutMs: number;
  verbose: boolean;
  /** Program to record; empty = record until --seconds, a signal or terminate. */
  command: string[];
}

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'record'; session: string; token: string; recording: RecordingOptions }
  | {
      kind: 'launch';
      apiKey: string;
      user: string;
      target: string;
      protocol: Protocol | undefined;
      recording: RecordingOptions;
    };

/** Session ids become spool directory names, so they must be plain file names. */
export const SessionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-"');

const positiveNumber = (name: string, max: number) =>
  z.coerce
    .number({ error: `--${name} must be a number` })
    .positive(`--${name} must be above 0`)
    .max(max, `--${name} must be at most ${max}`);

const RecordingFlags = z.object({
  server: z
    .url({ protocol: /^https?$/, error: '--server must be an http:// or https:// URL' })
    .transform((url) => url.replace(/\/+$/, '')),
  source: z.enum(SOURCES, { error: `--source must be one of ${SOURCES.join(', ')}` }).optional(),
  display: z.string().min(1).max(200).optional(),
  fps: positiveNumber('fps', 60).default(DEFAULT_FPS),
  seconds: positiveNumber('seconds', 7 * 24 * 3600).optional(),
  codec: z.enum(CODECS, { error: '--codec must be vp8 or vp9' }).default(DEFAULT_CODEC),
  spool: z.string().min(1).optional(),
  'drain-timeout': z.coerce
    .number()
    .min(0)
    .max(24 * 3600)
    .default(DEFAULT_DRAIN_TIMEOUT_S),
  'connect-timeout': positiveNumber('connect-timeout', 24 * 3600).default(DEFAULT_CONNECT_TIMEOUT_S),
  verbose: z.boolean().default(false),
});

const RecordFlags = RecordingFlags.extend({
  session: SessionId,
  token: z.string().min(1, '--token is required'),
});

const LaunchFlags = RecordingFlags.extend({
  'api-key': z.string().min(1),
  user: z.string().min(1).max(200),
  target: z.string().min(1).max(500),
  protocol: Protocol.optional(),
});

const OPTION_SPEC = {
  server: { type: 'string' },
  session: { type: 'string' },
  token: { type: 'string' },
  'api-key': { type: 'string' },
  user: { type: 'string' },
  target: { type: 'string' },
  protocol: { type: 'string' },
  source: { type: 'string' },
  display: { type: 'string' },
  fps: { type: 'string' },
  seconds: { type: 'string' },
  codec: { type: 'string' },
  spool: { type: 'string' },
  'drain-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

function tokenize(argv: string[]) {
  return parseArgs({ args: argv, options: OPTION_SPEC, allowPositionals: true, tokens: true, strict: true });
}

/** Default spool root: $XDG_CACHE_HOME/witness/spool, else ~/.cache/witness/spool (LOCALAPPDATA on Windows). */
export function defaultSpoolRoot(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const cache = env.XDG_CACHE_HOME || (platform === 'win32' && env.LOCALAPPDATA) || join(homedir(), '.cache');
  return join(cache, 'witness', 'spool');
}

export function defaultSource(platform: NodeJS.Platform = process.platform): Source {
  return platform === 'win32' ? 'gdigrab' : platform === 'darwin' ? 'avfoundation' : 'x11';
}

/** Parses `argv` (without node and the script). Throws UsageError with a readable message. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  let parsed: ReturnType<typeof tokenize>;
  try {
    parsed = tokenize(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, tokens } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  // Everything after `--` is the recorded program, verbatim.
  const terminator = tokens.find((t) => t.kind === 'option-terminator');
  const command = terminator ? argv.slice(terminator.index + 1) : [];
  const positionals = tokens
    .filter((t) => t.kind === 'positional' && (!terminator || t.index < terminator.index))
    .map((t) => (t.kind === 'positional' ? t.value : ''));
  const [verb, ...extra] = positionals;
  if (!verb) throw new UsageError('missing command: record or launch');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (put the recorded program after --)`);
  if (verb !== 'record' && verb !== 'launch') throw new UsageError(`unknown command "${verb}": use record or launch`);

  const schema = verb === 'record' ? RecordFlags : LaunchFlags;
  const allowed = new Set(Object.keys(schema.shape));
  for (const name of Object.keys(values)) {
    if (!allowed.has(name)) throw new UsageError(`--${name} is not an option of "${verb}"`);
  }
  const result = schema.safeParse(values);
  if (!result.success) {
    const issue = result.error.issues[0];
    const flag = String(issue?.path[0] ?? '');
    if (values[flag as keyof typeof values] === undefined) throw new UsageError(`--${flag} is required`);
    const message = issue?.message ?? 'invalid value';
    throw new UsageError(message.startsWith('--') ? message : `--${flag}: ${message}`);
  }
  const flags = result.data;
  const recording: RecordingOptions = {
    server: flags.server,
    source: flags.source ?? defaultSource(),
    display: flags.display,
    fps: flags.fps,
    seconds: flags.seconds,
    codec: flags.codec,
    spoolRoot: flags.spool ?? defaultSpoolRoot(env),
    drainTimeoutMs: flags['drain-timeout'] * 1000,
    connectTimeoutMs: flags['connect-timeout'] * 1000,
    verbose: flags.verbose,
    command,
  };
  if (terminator && command.length === 0) throw new UsageError('nothing to record after --');
  if ('session' in flags) return { kind: 'record', session: flags.session, token: flags.token, recording };
  const launch = flags as z.infer<typeof LaunchFlags>;
  return {
    kind: 'launch',
    apiKey: launch['api-key'],
    user: launch.user,
    target: launch.target,
    protocol: launch.protocol,
    recording,
  };
}
