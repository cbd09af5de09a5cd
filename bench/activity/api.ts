/** The few Witness API calls the search benchmark makes, timed where the benchmark measures them. */
import type { ActivityAck, ActivityEvent, SearchIn } from '../../protocol/activity.ts';

export interface Api {
  baseUrl: string;
  apiKey: string;
}

async function failure(response: Response, what: string): Promise<Error> {
  return new Error(`${what}: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
}

export async function launch(api: Api, user: string, target: string): Promise<{ sessionId: string; token: string }> {
  const response = await fetch(`${api.baseUrl}/api/v1/launches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user, target }),
  });
  if (response.status !== 201) throw await failure(response, 'launch');
  return (await response.json()) as { sessionId: string; token: string };
}

/** Posts one event batch; resolves with the acknowledgment and the request's wall time. */
export async function postBatch(
  api: Api,
  session: { sessionId: string; token: string },
  batch: number,
  events: readonly ActivityEvent[],
): Promise<{ ack: ActivityAck; ms: number }> {
  const body = JSON.stringify({ events });
  const started = performance.now();
  const response = await fetch(`${api.baseUrl}/ingest/v1/sessions/${session.sessionId}/events/${batch}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 201)
    throw new Error(`batch ${batch} of ${session.sessionId}: HTTP ${response.status} ${text}`);
  return { ack: JSON.parse(text) as ActivityAck, ms };
}

export interface SearchReply {
  sessions: Array<{ id: string; matches: Array<{ type: string; offsetMs: number; snippet: string }> }>;
}

/** `GET /api/v1/sessions?q=…&in=…` as the console would call it; resolves with the reply and its wall time. */
export async function searchApi(
  api: Api,
  q: string,
  within: readonly SearchIn[],
): Promise<{ reply: SearchReply; ms: number }> {
  const url = `${api.baseUrl}/api/v1/sessions?${new URLSearchParams({ q, in: within.join(',') })}`;
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${api.apiKey}` } });
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200)
    throw new Error(`search ${JSON.stringify(q)}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return { reply: JSON.parse(text) as SearchReply, ms };
}

/** Ends a session as an admin would; a session that already ended is fine. */
export async function terminate(api: Api, sessionId: string): Promise<void> {
  const response = await fetch(`${api.baseUrl}/api/v1/sessions/${sessionId}/terminate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ mode: 'terminate', message: 'benchmark' }),
  });
  if (response.status !== 200 && response.status !== 409) throw await failure(response, `terminate ${sessionId}`);
  await response.body?.cancel();
}

/** Every session's status and recording status, page by page. */
export async function sessionStates(api: Api): Promise<Array<{ status: string; recording: string }>> {
  const out: Array<{ status: string; recording: string }> = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const params = new URLSearchParams({ limit: '200', ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${api.baseUrl}/api/v1/sessions?${params}`, {
      headers: { authorization: `Bearer ${api.apiKey}` },
    });
    if (response.status !== 200) throw await failure(response, 'list sessions');
    const body = (await response.json()) as {
      sessions: Array<{ status: string; recording: { status: string } }>;
      nextCursor: string | null;
    };
    out.push(...body.sessions.map((s) => ({ status: s.status, recording: s.recording.status })));
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return out;
}
