/** `GET /api/v1/sessions` without a query: newest first, paged by cursor, ties on the creation time included. */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api } from './helpers.ts';

interface Page {
  sessions: Array<{ id: string; target: string }>;
  nextCursor: string | null;
}

/** Sessions straight into D1, several sharing one creation time, as a busy vault would produce. */
async function seed(target: string, createdAts: number[]): Promise<string[]> {
  const ids = createdAts.map(() => crypto.randomUUID());
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare(
        `INSERT INTO sessions (id, user, target, protocol, status, created_at, policy, launched_by, recording_status)
         VALUES (?, 'pager', ?, 'desktop', 'ended', ?, '{}', 'test', 'empty')`,
      ).bind(id, target, createdAts[i]),
    ),
  );
  return ids;
}

describe('GET /api/v1/sessions paging', () => {
  it('pages through every session exactly once, newest first, across equal creation times', async () => {
    const target = `paging-${crypto.randomUUID()}`;
    const t = Date.parse('2026-01-01T00:00:00Z');
    const ids = await seed(target, [t, t, t, t + 1, t + 1, t + 2, t - 5]);
    const seen: Page['sessions'] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/sessions?target=${target}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await api(query);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...page.sessions);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    expect(seen.map((s) => s.id).sort()).toEqual([...ids].sort());
    // Newest first: the creation times never go up from one session to the next.
    const created = new Map(ids.map((id, i) => [id, [t, t, t, t + 1, t + 1, t + 2, t - 5][i] as number]));
    const times = seen.map((s) => created.get(s.id) as number);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });
});
