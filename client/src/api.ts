/** The console's calls to /api/v1 (API key in sessionStorage until console logins exist). */

const KEY_STORAGE = 'witness.apiKey';

export function storedApiKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

export function storeApiKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${storedApiKey()}`);
  if (init.body) headers.set('content-type', 'application/json');
  const res = await fetch(`/api/v1${path}`, { ...init, headers });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
    throw new ApiFailure(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? res.statusText);
  }
  return (res.headers.get('content-type')?.includes('json') ? res.json() : res.blob()) as Promise<T>;
}

export interface SessionSummary {
  id: string;
  user: string;
  target: string;
  protocol: string;
  status: 'pending' | 'active' | 'ended';
  endReason: string | null;
  startedAt: string | null;
  durationMs: number | null;
  recording: { status: string; url: string | null; bytes: number };
}
