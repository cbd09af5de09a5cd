/**
 * The terminal pages' calls to /api/v1 (kept out of client/src/api.ts, which holds the typed client): which
 * format a session records, and a sealed `.cast`.
 */
import { ApiFailure, api, call } from '../api.ts';

export type { RecordingFormat } from '../../../protocol/session.ts';

import type { RecordingFormat } from '../../../protocol/session.ts';

/** The session's recording format; null when the details are refused. */
export async function sessionFormat(sessionId: string): Promise<RecordingFormat | null> {
  try {
    const detail = await call(api.sessions[':id'].$get({ param: { id: sessionId } }));
    return detail.format;
  } catch (failure) {
    if (failure instanceof ApiFailure && failure.status === 403) return null;
    throw failure;
  }
}

/** A sealed `recording.cast` (the login cookie authenticates it), as text. */
export async function fetchCast(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new ApiFailure(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `${res.status}`);
  }
  return res.text();
}
