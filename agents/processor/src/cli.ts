/** `witness-processor`: leases MP4 jobs from a Witness server and converts them with ffmpeg, N at a time. */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_LEASE_SECONDS,
  MAX_LEASE_SECONDS,
  MIN_LEASE_SECONDS,
  type VideoCodec,
} from '../../../protocol/processing.ts';
import { createLogger, type Logger } from '../../launcher/src/log.ts';
import { findExecutable } from '../../launcher/src/which.ts';
import { witnessVersion } from '../../shared/version.ts';
import { convertJob } from './convert.ts';
import { availableCodecs } from './ffmpeg.ts';
import { ProcessingClient, ServerError } from './server-client.ts';

export const USAGE = `Usage: witness-processor --server URL [--api-key KEY] [--concurrency N] [options]

Converts sealed Witness recordings (WebM) to MP4 with ffmpeg: leases jobs from the server over HTTPS, reads
each recording by Range, uploads the MP4 in parts and reports progress. Run as many as you like, on any
hosts: two processors never convert the same job, and a job whose processor dies goes back to the queue.

Options:
  --server URL          the Witness server (https://witness.example.com)
  --api-key KEY         an API key with the "processor" scope (default: $WITNESS_API_KEY)
  --concurrency N       jobs converted at once (default 1)
  --ffmpeg PATH         the ffmpeg to run (default: ffmpeg on PATH)
  --work-dir DIR        where MP4s are written before upload (default: the system's temporary directory)
  --lease-seconds N     how long a lease lasts between progress reports (${MIN_LEASE_SECONDS}–${MAX_LEASE_SECONDS}, default ${DEFAULT_LEASE_SECONDS})
  --poll-seconds N      how long to wait when no job is due (default 5)
  --verbose             debug lines on stderr
  --help, --version

Examples:
  witness-processor --server https://witness.example.com --api-key wk_… --concurrency 2
  WITNESS_API_KEY=wk_… witness-processor --server http://127.0.0.1:8787

Exit codes: 0 stopped by SIGINT/SIGTERM (a job under way is handed back to the queue); 1 a bad option, no
ffmpeg, an ffmpeg without any supported encoder, or a key the server refuses. docs/processing.md has more.`;

interface Options {
  server: string;
  apiKey: string;
  concurrency: number;
  ffmpeg: string;
  workDir: string;
  leaseSeconds: number;
  pollMs: number;
  verbose: boolean;
}

function parse(argv: string[]): Options | { help: true } | { version: true } {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      'api-key': { type: 'string' },
      concurrency: { type: 'string', default: '1' },
      ffmpeg: { type: 'string' },
      'work-dir': { type: 'string' },
      'lease-seconds': { type: 'string', default: String(DEFAULT_LEASE_SECONDS) },
      'poll-seconds': { type: 'string', default: '5' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  const whole = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`--${name} must be a whole number ${min}–${max}`);
    return n;
  };
  if (!values.server) throw new Error('--server is required');
  if (!/^https?:\/\//.test(values.server)) throw new Error('--server must be an http(s) URL');
  const apiKey = values['api-key'] ?? process.env.WITNESS_API_KEY ?? '';
  if (!apiKey) throw new Error('an API key is required (--api-key or WITNESS_API_KEY)');
  const ffmpeg = values.ffmpeg ?? findExecutable('ffmpeg');
  if (!ffmpeg) throw new Error('ffmpeg is not on the PATH (install it, or pass --ffmpeg PATH)');
  return {
    server: values.server,
    apiKey,
    concurrency: whole('concurrency', values.concurrency, 1, 64),
    ffmpeg,
    workDir: path.resolve(values['work-dir'] ?? path.join(tmpdir(), 'witness-processor')),
    leaseSeconds: whole('lease-seconds', values['lease-seconds'], MIN_LEASE_SECONDS, MAX_LEASE_SECONDS),
    pollMs: whole('poll-seconds', values['poll-seconds'], 1, 3600) * 1000,
    verbose: values.verbose ?? false,
  };
}

/** Waits `ms`, or less if `stop` aborts first. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One lane: lease, convert, repeat, until stopped. */
async function lane(options: Options, codecs: VideoCodec[], client: ProcessingClient, log: Logger, stop: AbortSignal) {
  while (!stop.aborted) {
    let job: Awaited<ReturnType<ProcessingClient['lease']>>;
    try {
      job = await client.lease({ encoders: codecs, leaseSeconds: options.leaseSeconds });
    } catch (error) {
      if (error instanceof ServerError && (error.status === 401 || error.status === 403)) throw error;
      log.warn(`asking for a job failed: ${(error as Error).message}`);
      await pause(options.pollMs, stop);
      continue;
    }
    if (!job) {
      await pause(options.pollMs, stop);
      continue;
    }
    const outcome = await convertJob(job, { ...options, client, log, stop });
    if (outcome === 'lost') log.warn(`${job.sessionId}: the lease was lost; the job is another processor's now`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv);
  } catch (error) {
    process.stderr.write(`witness-processor: ${(error as Error).message}\n\n${USAGE}\n`);
    return 1;
  }
  if ('help' in options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if ('version' in options) {
    process.stdout.write(`${witnessVersion()}\n`);
    return 0;
  }
  const log = createLogger({ verbose: options.verbose });
  let codecs: VideoCodec[];
  try {
    codecs = await availableCodecs(options.ffmpeg);
  } catch (error) {
    log.error(`${options.ffmpeg} does not run: ${(error as Error).message}`);
    return 1;
  }
  if (codecs.length === 0) {
    log.error(`${options.ffmpeg} has none of the encoders Witness uses (libx264, libx265)`);
    return 1;
  }
  mkdirSync(options.workDir, { recursive: true });
  const client = new ProcessingClient(options.server, options.apiKey);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  log.info(
    `processor ${witnessVersion()}: ${options.concurrency} at a time from ${options.server}, encoders ${codecs.join(', ')}`,
  );
  process.stdout.write('processor ready\n');
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, () => lane(options, codecs, client, log, stop.signal)),
    );
    return 0;
  } catch (error) {
    log.error((error as Error).message);
    stop.abort();
    return 1;
  }
}

if (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`witness-processor: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
