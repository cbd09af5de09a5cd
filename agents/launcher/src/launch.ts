/** `POST /api/v1/launches`: asks the server for a recorded session and its ingest token. */
import { ErrorBody, LaunchReply } from '../../../protocol/ingest.ts';
import type { AgentLogin, Protocol, RecordingFormat } from '../../../protocol/session.ts';
import { Backoff } from './backoff.ts';
import type { Logger } from './log.ts';

export interface LaunchRequest {
  server: string;
  apiKey: string;
  user: string;
  target: string;
  protocol: Protocol | undefined;
  /** What will be recorded; the server's default follows `protocol` (asciicast for ssh, else webm). */
  format?: RecordingFormat;
  /** witness-agent's login (its tty and remote address); the server takes it from an agent key only. */
  login?: AgentLogin;
}

/** The server refused or could not be asked; the message is meant for the user. */
export class LaunchError extends Error {
  override name = 'LaunchError';
  /** The request never reached the server (refused connection, unknown host): asking again creates no second session. */
  readonly unreached: boolean;

  constructor(message: string, unreached = false) {
    super(message);
    this.unreached = unreached;
  }
}

/** Connection errors after which the launch request surely never reached the server. */
const UNREACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Asks for the launch until the server can be reached or `timeoutMs` has passed, saying so at each try. Only a
 * request that never reached the server is sent again: a launch is not idempotent, and a lost reply must not
 * leave a second pending session behind.
 */
export async function requestLaunchPatiently(
  request: LaunchRequest,
  options: { timeoutMs: number; log: Logger; fetchImpl?: typeof fetch; backoff?: Backoff },
): Promise<LaunchReply> {
  const giveUpAt = Date.now() + options.timeoutMs;
  const backoff = options.backoff ?? new Backoff();
  for (;;) {
    try {
      return await requestLaunch(request, options.fetchImpl);
    } catch (error) {
      if (!(error instanceof LaunchError) || !error.unreached) throw error;
      const delay = backoff.next();
      if (Date.now() + delay > giveUpAt) {
        throw new LaunchError(`${error.message}; gave up after ${options.timeoutMs / 1000} s (--connect-timeout)`);
      }
      options.log.warn(`${error.message}; trying again in ${(delay / 1000).toFixed(1)} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export async function requestLaunch(request: LaunchRequest, fetchImpl: typeof fetch = fetch): Promise<LaunchReply> {
  const body = {
    user: request.user,
    target: request.target,
    ...(request.protocol ? { protocol: request.protocol } : {}),
    ...(request.format ? { format: request.format } : {}),
    ...(request.login ? { login: request.login } : {}),
  };
  let response: Response;
  try {
    response = await fetchImpl(`${request.server}/api/v1/launches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const code = ((error as Error).cause as { code?: unknown } | undefined)?.code;
    const why = typeof code === 'string' ? `${(error as Error).message} (${code})` : (error as Error).message;
    throw new LaunchError(`cannot reach ${request.server}: ${why}`, typeof code === 'string' && UNREACHED.has(code));
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status !== 201 && response.status !== 200) {
    const error = ErrorBody.safeParse(json);
    const detail = error.success ? `${error.data.error.code}: ${error.data.error.message}` : text.slice(0, 200);
    throw new LaunchError(`launch refused (HTTP ${response.status}) ${detail}`.trim());
  }
  const reply = LaunchReply.safeParse(json);
  if (!reply.success) throw new LaunchError(`unexpected launch reply: ${text.slice(0, 200)}`);
  if (request.format && reply.data.format !== request.format) {
    throw new LaunchError(`the server launched a ${reply.data.format} recording, not ${request.format}`);
  }
  return reply.data;
}
