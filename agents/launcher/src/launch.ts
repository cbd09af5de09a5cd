/** `POST /api/v1/launches`: asks the server for a recorded session and its ingest token. */
import { ErrorBody, LaunchReply } from '../../../protocol/ingest.ts';
import type { Protocol, RecordingFormat } from '../../../protocol/session.ts';

export interface LaunchRequest {
  server: string;
  apiKey: string;
  user: string;
  target: string;
  protocol: Protocol | undefined;
  /** What will be recorded; the server's default follows `protocol` (asciicast for ssh, else webm). */
  format?: RecordingFormat;
}

/** The server refused or could not be asked; the message is meant for the user. */
export class LaunchError extends Error {
  override name = 'LaunchError';
}

export async function requestLaunch(request: LaunchRequest, fetchImpl: typeof fetch = fetch): Promise<LaunchReply> {
  const body = {
    user: request.user,
    target: request.target,
    ...(request.protocol ? { protocol: request.protocol } : {}),
    ...(request.format ? { format: request.format } : {}),
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
    throw new LaunchError(`cannot reach ${request.server}: ${(error as Error).message}`);
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
