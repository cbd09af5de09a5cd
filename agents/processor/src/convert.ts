/**
 * One leased job: read the sealed WebM from the server by Range into ffmpeg's stdin (hashing it on the way, to
 * check it is the recording the signed manifest names), write the MP4 to a file of its own, upload it in parts,
 * and complete it. Memory stays bounded whatever the recording's length: one source chunk and one part at a time.
 * The lease is renewed by a progress report every few seconds; when the server says the lease is gone, the job
 * is dropped without a word (another processor has it, or will).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FailureReport, LeasedJob } from '../../../protocol/processing.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { conversionArgs, progressMs, StderrTail } from './ffmpeg.ts';
import { type ProcessingClient, ServerError } from './server-client.ts';

/** Bytes of source asked for per Range request. */
const SOURCE_CHUNK_BYTES = 8 * 1024 * 1024;

export interface ConvertOptions {
  client: ProcessingClient;
  ffmpeg: string;
  workDir: string;
  leaseSeconds: number;
  log: Logger;
  /** Aborted when the processor stops: the conversion is given up and the job handed back. */
  stop: AbortSignal;
}

export type ConvertOutcome = 'ready' | 'failed' | 'lost' | 'stopped';

/** Thrown inside a conversion to end it with a failure report. */
class ConversionFailed extends Error {
  readonly report: Omit<FailureReport, 'leaseId'>;

  constructor(report: Omit<FailureReport, 'leaseId'>) {
    super(report.cause.message);
    this.report = report;
  }
}

const failure = (retryable: boolean, message: string, extra: Partial<FailureReport['cause']> = {}) =>
  new ConversionFailed({ retryable, cause: { message, exitCode: null, signal: null, stderrTail: '', ...extra } });

export async function convertJob(job: LeasedJob, options: ConvertOptions): Promise<ConvertOutcome> {
  const { client, log } = options;
  const dir = await mkdtemp(path.join(options.workDir, `job-${job.sessionId.slice(0, 8)}-`));
  const output = path.join(dir, 'recording.mp4');
  const lost = new AbortController();
  let percent = 0;
  let ffmpeg: ChildProcess | null = null;
  const killFfmpeg = () => ffmpeg?.exitCode === null && ffmpeg.signalCode === null && ffmpeg.kill('SIGKILL');
  lost.signal.addEventListener('abort', killFfmpeg);
  options.stop.addEventListener('abort', killFfmpeg);
  // The lease is renewed well before it runs out, whatever the job is doing (reading, encoding, uploading).
  const heartbeat = setInterval(
    () => {
      client.progress(job, percent, options.leaseSeconds).catch((error: unknown) => {
        if (error instanceof ServerError && error.leaseLost) lost.abort();
        else log.warn(`progress report for ${job.sessionId} failed: ${(error as Error).message}`);
      });
    },
    Math.min(2000, (options.leaseSeconds * 1000) / 3),
  );
  const gone = () => (lost.signal.aborted ? 'lost' : options.stop.aborted ? 'stopped' : null);
  try {
    log.info(`converting ${job.sessionId} to ${job.codec} (attempt ${job.attempt}, ${job.source.size} bytes)`);
    const child = spawn(options.ffmpeg, conversionArgs(job.codec, output), { stdio: ['pipe', 'pipe', 'pipe'] });
    ffmpeg = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const stderr = new StderrTail();
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const ms = progressMs(line.trim());
        if (ms !== null && job.source.mediaDurationMs > 0) {
          percent = Math.min(99, (100 * ms) / job.source.mediaDurationMs);
        }
      }
    });
    const sha256 = await feedSource(job, client, child, () => gone() !== null);
    const { code, signal } = await exited;
    if (gone()) return gone() as ConvertOutcome;
    if (code !== 0) {
      const how = signal ? `ffmpeg was killed by ${signal}` : `ffmpeg exited with code ${code}`;
      // A signal is the host's doing (memory, a kill): worth another try. An exit code is ffmpeg's verdict.
      throw failure(signal !== null, how, { exitCode: code, signal, stderrTail: stderr.toString() });
    }
    if (sha256 !== job.source.sha256) {
      throw failure(
        false,
        `the source read from the server (sha256 ${sha256}) is not the recording its signed manifest names (sha256 ${job.source.sha256})`,
      );
    }
    const parts = await uploadFile(job, client, output, () => gone() !== null);
    if (gone()) return gone() as ConvertOutcome;
    const done = await client.complete(job, parts).catch((error: unknown) => {
      if (error instanceof ServerError && error.status === 422)
        throw failure(false, `the server refused the MP4: ${error.message}`);
      throw error;
    });
    log.info(`${job.sessionId}: MP4 ready (${done.bytes} bytes, sha256 ${done.sha256})`);
    return 'ready';
  } catch (error) {
    if (error instanceof ServerError && error.leaseLost) return 'lost';
    if (gone()) return gone() as ConvertOutcome;
    const report =
      error instanceof ConversionFailed
        ? error.report
        : failure(true, `the processor failed: ${error instanceof Error ? error.message : String(error)}`).report;
    log.warn(`${job.sessionId}: ${report.cause.message}${report.retryable ? ' (will be retried)' : ''}`);
    try {
      await client.failure(job, report);
    } catch (reportError) {
      if (!(reportError instanceof ServerError && reportError.leaseLost)) {
        log.error(`could not report the failure of ${job.sessionId}: ${(reportError as Error).message}`);
      }
    }
    return 'failed';
  } finally {
    clearInterval(heartbeat);
    killFfmpeg();
    if (options.stop.aborted && !lost.signal.aborted) {
      // Handed back at once, so that another processor (or this one, restarted) takes it up.
      await client
        .failure(job, failure(true, 'the processor was stopped during the conversion').report)
        .catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Streams the source into ffmpeg's stdin, a Range at a time; returns the SHA-256 of what it read. */
async function feedSource(
  job: LeasedJob,
  client: ProcessingClient,
  child: ChildProcess,
  stopped: () => boolean,
): Promise<string> {
  const stdin = child.stdin;
  if (!stdin) throw new Error('ffmpeg has no stdin');
  let closed = false;
  stdin.on('error', () => {
    closed = true; // ffmpeg stopped reading (it failed, or was killed): its exit says why
  });
  child.once('close', () => {
    closed = true;
  });
  const hash = createHash('sha256');
  for (let offset = 0; offset < job.source.size && !closed && !stopped(); offset += SOURCE_CHUNK_BYTES) {
    const bytes = await client.readSource(job, offset, Math.min(SOURCE_CHUNK_BYTES, job.source.size - offset));
    hash.update(bytes);
    if (closed) break;
    if (!stdin.write(bytes)) {
      // A pipe that breaks while it waits (EPIPE) is ffmpeg stopping: its exit says why.
      await Promise.race([once(stdin, 'drain'), once(child, 'close')]).catch(() => {
        closed = true;
      });
    }
  }
  stdin.end();
  return hash.digest('hex');
}

/** Uploads the MP4 in parts of `job.partBytes` (the last may be smaller); returns how many. */
async function uploadFile(
  job: LeasedJob,
  client: ProcessingClient,
  file: string,
  stopped: () => boolean,
): Promise<number> {
  await client.beginUpload(job);
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(job.partBytes);
    let part = 0;
    for (;;) {
      if (stopped()) return part;
      let filled = 0;
      while (filled < buffer.byteLength) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      part++;
      await client.putPart(job, part, buffer.subarray(0, filled));
      if (filled < buffer.byteLength) break;
    }
    if (part === 0) throw failure(false, 'ffmpeg wrote an empty MP4');
    return part;
  } finally {
    await handle.close();
  }
}
