/**
 * Names from outside are printable text: a launch whose user or target carries a control character, a bidi
 * override or an invisible character is refused with a 400 naming the field, and nothing is stored. Names in
 * any script (and emoji) still launch; rows stored before the rule still read.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, launch } from './helpers.ts';

/** Each kind of hidden character, inside an otherwise ordinary name. */
const HOSTILE: Array<[string, string]> = [
  ['NUL', 'ali\u0000ce'],
  ['BEL', 'alice\u0007'],
  ['ESC[2J (clear screen)', '\u001b[2J\u001b[32mVERIFIED'],
  ['CR', 'alice\rVERIFIED'],
  ['LF', 'alice\nVERIFIED'],
  ['a trailing LF (not trimmed away)', 'alice\n'],
  ['TAB', 'ali\tce'],
  ['DEL', 'alice\u007f'],
  ['C1 CSI (U+009B)', 'alice\u009b2J'],
  ['U+202E (right-to-left override)', 'alice\u202etxt.exe'],
  ['U+2066 (left-to-right isolate)', 'alice\u2066'],
  ['U+200F (right-to-left mark)', 'alice\u200f'],
  ['U+2028 (line separator)', 'alice\u2028VERIFIED'],
  ['U+200B (zero-width space)', 'ali\u200bce'],
  ['U+200D (zero-width joiner) between ASCII letters', 'ali\u200dce'],
  ['U+FEFF (zero-width no-break space)', '\ufeffalice'],
  ['a tag character (U+E0041)', 'alice\u{e0041}'],
];

async function sessionCount(): Promise<number> {
  const row = await env.DB.prepare('SELECT count(*) AS n FROM sessions').first<{ n: number }>();
  return row?.n ?? 0;
}

async function postLaunch(body: Record<string, unknown>): Promise<Response> {
  return api('/launches', { method: 'POST', body: JSON.stringify({ user: 'alice', target: 'db-01.prod', ...body }) });
}

describe('names in POST /api/v1/launches', () => {
  for (const field of ['user', 'target'] as const) {
    it.each(HOSTILE)(`refuses ${field} with %s: 400 naming the field, nothing stored`, async (_kind, name) => {
      const before = await sessionCount();
      const res = await postLaunch({ [field]: name });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_json');
      expect(body.error.message).toMatch(
        new RegExp(`^${field}: must not contain .+ \\(U\\+[0-9A-F]{4,5} at character \\d+\\)`),
      );
      expect(await sessionCount()).toBe(before);
    });
  }

  it.each([
    ['accents', 'José Müller', 'sérveur-01'],
    ['CJK', '日本太郎', '東京-db'],
    ['emoji, a ZWJ sequence among them', 'dev 👩‍💻🚀', 'box ❤️'],
    ['Persian with ZWNJ inside a word', 'علی‌رضا', 'سرور'],
    ['right-to-left script without controls', 'משתמש', 'שרת'],
  ])('accepts names with %s', async (_kind, user, target) => {
    const launched = await launch({ user, target });
    const session = (await (await api(`/sessions/${launched.sessionId}`)).json()) as { user: string; target: string };
    expect(session).toMatchObject({ user, target });
  });

  it('reads a session stored before the rule, its hostile name as it was stored', async () => {
    const id = crypto.randomUUID();
    const user = '\u001b[2J\u001b[32mVERIFIED\u202e';
    await env.DB.prepare(
      `INSERT INTO sessions (id, user, target, protocol, format, status, created_at, policy, launched_by, recording_status)
       VALUES (?, ?, 'db-01', 'ssh', 'asciicast', 'ended', ?, ?, 'bootstrap', 'empty')`,
    )
      .bind(
        id,
        user,
        Date.now(),
        JSON.stringify({
          recordingEnabled: true,
          keystrokesEnabled: true,
          inactivityTimeoutMs: 0,
          maxSessionLengthMs: 0,
        }),
      )
      .run();
    const res = await api(`/sessions/${id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { user: string }).user).toBe(user);
    const list = await api('/sessions');
    expect(list.status).toBe(200);
  });
});

describe('other names from outside', () => {
  it('refuses an API key name or host with a control character, naming the field', async () => {
    for (const [body, field] of [
      [{ name: 'ci\u001b[2J', scopes: ['read'] }, 'name'],
      [{ name: 'agent', scopes: ['agent'], host: 'db-01\r\nVERIFIED' }, 'host'],
    ] as const) {
      const res = await api('/keys', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        new RegExp(`^${field}: must not contain a control character`),
      );
    }
    expect(
      (await api('/keys', { method: 'POST', body: JSON.stringify({ name: 'clé 🔑', scopes: ['read'] }) })).status,
    ).toBe(201);
  });

  it('refuses a display name with a bidi override', async () => {
    const res = await api('/users', {
      method: 'POST',
      body: JSON.stringify({
        username: 'mallory',
        displayName: 'Mallory\u202e',
        password: 'a-long-enough-password',
        permissions: [],
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^displayName: must not contain a bidirectional control \(U\+202E/,
    );
  });
});
