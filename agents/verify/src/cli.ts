/** `witness`: offline checks of a session's evidence (`verify`) and downloading it (`fetch-evidence`). */
import { parseArgs } from 'node:util';
import { showEscapes } from '../../shared/terminal-text.ts';
import { witnessVersion } from '../../shared/version.ts';
import { FetchError, fetchEvidence } from './fetch-evidence.ts';
import { formatReport, verifyEvidence } from './verify.ts';

export const USAGE = `Usage:
  witness verify --manifest manifest.json [--recording recording.webm] [--pieces DIR] [--activity FILE]
                 (--public-key KEY_FILE_OR_BASE64 | --trust-embedded-key) [--session ID]
  witness fetch-evidence --server URL --api-key KEY --session ID --out DIR

verify checks, offline: the manifest's Ed25519 signature with the key you trust (a PEM or JSON file from
GET /api/v1/evidence/public-key, or the raw key in base64), the manifest's own consistency, the recording's
SHA-256, with --pieces each piece's SHA-256 and the hash chain recomputed from the files
(NNNNNNNNNN.webm or <seq>.webm; .cast for SSH sessions), and with --activity the session's activity events
(activity.jsonl, one event a line) against the digest the manifest signs. --recording is required when the
manifest names a recording; what is not given is named in a warning as not checked. fetch-evidence saves all of it
(only the manifest once retention deleted the media: it says so).

Examples:
  witness fetch-evidence --server https://witness.example.com --api-key KEY --session ID --out ev/
  witness verify --manifest ev/manifest.json --recording ev/recording.webm --pieces ev/pieces \\
    --activity ev/activity.jsonl --public-key server-public-key.pem --session ID

Exit codes: 0 everything verified; 1 a check failed (or a download failed); 2 bad usage or an unexpected error.
Options: --help, --version. More: docs/evidence.md.`;

export const Exit = { verified: 0, failed: 1, usage: 2 } as const;

const OPTIONS = {
  manifest: { type: 'string' },
  recording: { type: 'string' },
  pieces: { type: 'string' },
  'public-key': { type: 'string' },
  'trust-embedded-key': { type: 'boolean' },
  session: { type: 'string' },
  activity: { type: 'string' },
  server: { type: 'string' },
  'api-key': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const ALLOWED: Record<string, readonly string[]> = {
  verify: ['manifest', 'recording', 'pieces', 'activity', 'public-key', 'trust-embedded-key', 'session'],
  'fetch-evidence': ['server', 'api-key', 'session', 'out'],
};

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.err(`witness: ${(error as Error).message}\n\n${USAGE}\n`);
    return Exit.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(`${USAGE}\n`);
    return Exit.verified;
  }
  if (values.version) {
    io.out(`${witnessVersion()}\n`);
    return Exit.verified;
  }
  // `npm run verify -- --manifest …` works without naming the command.
  const command = positionals[0] ?? 'verify';
  const usage = (message: string) => {
    io.err(`witness: ${message}\n\n${USAGE}\n`);
    return Exit.usage;
  };
  const allowed = ALLOWED[command];
  if (!allowed) return usage(`unknown command "${command}": use verify or fetch-evidence`);
  if (positionals.length > 1) return usage(`unexpected argument "${positionals[1]}"`);
  for (const name of Object.keys(values)) {
    if (!allowed.includes(name)) return usage(`--${name} is not an option of "${command}"`);
  }

  if (command === 'fetch-evidence') {
    const { server, 'api-key': apiKey, session, out } = values;
    if (!server || !apiKey || !session || !out)
      return usage('fetch-evidence needs --server, --api-key, --session, --out');
    if (!/^https?:\/\//.test(server)) return usage('--server must be an http:// or https:// URL');
    try {
      const fetched = await fetchEvidence({
        server,
        apiKey,
        session,
        out,
        log: (line) => io.err(`${showEscapes(line)}\n`),
      });
      if (fetched.mediaDeleted) {
        io.out(
          `saved the manifest of session ${session} in ${fetched.manifest}: its media and activity were deleted ` +
            `by retention on ${fetched.mediaDeleted}; the signed manifest still lists every piece's SHA-256\n`,
        );
        return Exit.verified;
      }
      const recording = fetched.recording ? ` --recording ${fetched.recording}` : '';
      io.out(
        `saved the evidence of session ${session} in ${out}\nverify it with:\n` +
          `  witness verify --manifest ${fetched.manifest}${recording} --pieces ${fetched.pieces} ` +
          `--activity ${fetched.activity} --public-key <the server's key, obtained separately> --session ${session}\n`,
      );
      return Exit.verified;
    } catch (error) {
      if (!(error instanceof FetchError)) throw error;
      io.err(`witness: ${showEscapes(error.message)}\n`);
      return Exit.failed;
    }
  }

  if (!values.manifest) return usage('verify needs --manifest');
  if (values['public-key'] && values['trust-embedded-key']) {
    return usage('give --public-key or --trust-embedded-key, not both');
  }
  const report = await verifyEvidence({
    manifest: values.manifest,
    recording: values.recording,
    pieces: values.pieces,
    publicKey: values['public-key'],
    trustEmbeddedKey: values['trust-embedded-key'],
    session: values.session,
    activity: values.activity,
  });
  for (const warning of report.warnings) io.err(`\n*** WARNING ***\n${showEscapes(warning)}\n\n`);
  io.out(formatReport(report));
  return report.ok ? Exit.verified : Exit.failed;
}

if (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`witness: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(Exit.usage);
    },
  );
}
