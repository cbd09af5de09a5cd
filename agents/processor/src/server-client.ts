/** The processor's side of the job protocol (docs/processing.md): each call, its errors, and its retries. */
import {
  type FailureReport,
  LEASE_HEADER,
  LeasedJob,
  type LeaseRequest,
  ProgressReply,
} from '../../../protocol/processing.ts';
import { Backoff } from '../../launcher/src/backoff.ts';

/** An answer that is not a success, with the server's error code. */
export class ServerError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ServerError';
    this.status = status;
    this.code = code;
  }

  /** The lease ran out or went to another processor: drop the job, report nothing. */
  get leaseLost(): boolean {
    return this.status === 409 && this.code === 'lease_not_held';
  }

  /** Worth another try: the server or the network failed, not the request. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

/** Tries a call up to this many times when it fails transiently. */
const TRIES = 5;

export class ProcessingClient {
  readonly #server: string;
  readonly #apiKey: string;

  constructor(server: string, apiKey: string) {
    this.#server = server.replace(/\/+$/, '');
    this.#apiKey = apiKey;
  }

  /** The next job, or null when none is due. */
  async lease(request: LeaseRequest): Promise<LeasedJob | null> {
    const res = await this.#call('POST', '/api/v1/processing/lease', { json: request });
    if (res.status === 204) return null;
    return LeasedJob.parse(await res.json());
  }

  /** `length` bytes of the job's source from `offset`. */
  async readSource(job: LeasedJob, offset: number, length: number): Promise<Uint8Array> {
    const res = await this.#call('GET', job.source.url, {
      headers: { [LEASE_HEADER]: job.leaseId, range: `bytes=${offset}-${offset + length - 1}` },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength !== length) {
      throw new ServerError(502, 'short_read', `asked for ${length} bytes at ${offset}, got ${bytes.byteLength}`);
    }
    return bytes;
  }

  /** Reports progress; returns when the lease now runs out. */
  async progress(job: LeasedJob, percent: number, leaseSeconds: number): Promise<string> {
    const res = await this.#call('POST', `/api/v1/processing/jobs/${job.sessionId}/progress`, {
      json: { leaseId: job.leaseId, percent, leaseSeconds },
      tries: 1,
    });
    return ProgressReply.parse(await res.json()).leaseExpiresAt;
  }

  async failure(job: LeasedJob, report: Omit<FailureReport, 'leaseId'>): Promise<void> {
    await this.#call('POST', `/api/v1/processing/jobs/${job.sessionId}/failure`, {
      json: { leaseId: job.leaseId, ...report },
    });
  }

  async beginUpload(job: LeasedJob): Promise<void> {
    await this.#call('POST', `/api/v1/processing/jobs/${job.sessionId}/upload`, { json: { leaseId: job.leaseId } });
  }

  async putPart(job: LeasedJob, part: number, bytes: Uint8Array): Promise<void> {
    await this.#call('PUT', `/api/v1/processing/jobs/${job.sessionId}/parts/${part}`, {
      headers: { [LEASE_HEADER]: job.leaseId, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
  }

  /** Completes the upload; the server checks, hashes and signs the MP4. Returns its SHA-256. */
  async complete(job: LeasedJob, parts: number): Promise<{ sha256: string | null; bytes: number | null }> {
    const res = await this.#call('POST', `/api/v1/processing/jobs/${job.sessionId}/complete`, {
      json: { leaseId: job.leaseId, parts },
      tries: 1,
    });
    const reply = (await res.json()) as { processing?: { sha256?: string | null; bytes?: number | null } };
    return { sha256: reply.processing?.sha256 ?? null, bytes: reply.processing?.bytes ?? null };
  }

  async #call(
    method: string,
    path: string,
    options: { json?: unknown; body?: Uint8Array; headers?: Record<string, string>; tries?: number },
  ): Promise<Response> {
    const backoff = new Backoff({ baseMs: 500, capMs: 8000 });
    const tries = options.tries ?? TRIES;
    for (let attempt = 1; ; attempt++) {
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${this.#apiKey}`, ...options.headers };
        if (options.json !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${this.#server}${path}`, {
          method,
          headers,
          body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
          signal: AbortSignal.timeout(120_000),
        });
        if (res.ok) return res;
        const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
        throw new ServerError(
          res.status,
          body?.error?.code ?? 'http_error',
          `${method} ${path}: ${res.status} ${body?.error?.message ?? res.statusText}`,
        );
      } catch (error) {
        const transient = !(error instanceof ServerError) || error.transient;
        if (!transient || attempt >= tries) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
      }
    }
  }
}
