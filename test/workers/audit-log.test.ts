/** The audit log reads: a session's rows by its id, each naming whom and what the session recorded. */
import { describe, expect, it } from 'vitest';
import { api, launch } from './helpers.ts';

interface Entry {
  action: string;
  targetType: string | null;
  targetId: string | null;
  session: { user: string; target: string } | null;
}

async function entries(query: string): Promise<Entry[]> {
  const res = await api(`/audit?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: Entry[] }).entries;
}

describe('the audit log', () => {
  it("lists one session's rows, each naming the session's user and target", async () => {
    const one = await launch({ user: 'carol', target: 'db-audit-1' });
    const two = await launch({ user: 'dave', target: 'db-audit-2' });
    const terminated = await api(`/sessions/${one.sessionId}/terminate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'terminate', message: 'audit test' }),
    });
    expect(terminated.status).toBe(200);

    const rows = await entries(`session=${one.sessionId}`);
    expect(rows.map((r) => r.action).sort()).toEqual(['session.launched', 'session.terminated']);
    for (const row of rows) {
      expect(row).toMatchObject({
        targetType: 'session',
        targetId: one.sessionId,
        session: { user: 'carol', target: 'db-audit-1' },
      });
    }
    expect((await entries(`session=${two.sessionId}`)).map((r) => r.session)).toEqual([
      { user: 'dave', target: 'db-audit-2' },
    ]);
    expect(await entries('session=no-such-session')).toEqual([]);
  });

  it('names no session for rows about other things', async () => {
    const rows = await entries('action=session.launched&limit=1');
    expect(rows[0]?.session).not.toBeNull();
    const signIns = await entries('limit=500');
    for (const row of signIns.filter((r) => r.targetType !== 'session')) expect(row.session).toBeNull();
  });

  it('refuses a session filter that is not a string of a sane length', async () => {
    const res = await api(`/audit?session=${'x'.repeat(201)}`);
    expect(res.status).toBe(400);
  });
});

describe('the audit export', () => {
  it('exports what the filters select as CSV, each row with its sentence, formulas defused, and audits itself', async () => {
    const s = await launch({ user: '=HYPERLINK("x")', target: 'db-export' });
    const res = await api(`/audit/export?session=${s.sessionId}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('x-witness-next-cursor')).toBeNull();
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toBe(
      'id,at,sentence,actorKind,actorName,actorId,action,targetType,targetId,sessionUser,sessionTarget,ip,userAgent,details',
    );
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`launched session =HYPERLINK(""x"")@db-export`);
    // The user's name alone in a cell would be a formula: it is prefixed.
    expect(lines[1]).toContain(`"'=HYPERLINK(""x"")"`);
    const exported = await entries('action=audit.exported&limit=1');
    expect(exported).toHaveLength(1);
  });

  it('exports JSON with the same rows as the search', async () => {
    const s = await launch({ user: 'erin', target: 'db-export-json' });
    const listed = await entries(`session=${s.sessionId}`);
    const res = await api(`/audit/export?session=${s.sessionId}&format=json`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { entries: Array<Entry & { sentence: string }> };
    expect(body.entries.map((e) => e.action)).toEqual(listed.map((e) => e.action));
    expect(body.entries[0]?.sentence).toBe('bootstrap key launched session erin@db-export-json (desktop)');
  });

  it('refuses an unknown format', async () => {
    expect((await api('/audit/export?format=xml')).status).toBe(400);
  });
});
