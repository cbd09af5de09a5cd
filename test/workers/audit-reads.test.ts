/**
 * No read of recorded data goes unaudited, and the trail stays readable: any Range of a recording, the
 * evidence, the activity and its map are one audit row per principal, session and hour, with every request
 * counted beside it (GET /api/v1/audit/reads); every search is a row with its query.
 */
import { describe, expect, it } from 'vitest';
import { api, fixturePieces, recordedSession, request } from './helpers.ts';

interface Entry {
  action: string;
  targetId: string | null;
  details: Record<string, unknown>;
}

async function entries(action: string, target?: string): Promise<Entry[]> {
  const res = await api(`/audit?action=${action}${target ? `&target=${target}` : ''}&limit=500`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: Entry[] }).entries;
}

interface Read {
  kind: string;
  requests: number;
  bytes: number;
  byteSpan: { from: number; to: number } | null;
}

async function reads(session: string): Promise<Read[]> {
  const res = await api(`/audit/reads?session=${session}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { reads: Read[] }).reads;
}

describe('reads of recorded data', () => {
  it('audits a recording read from any byte once an hour, and counts every range', async () => {
    const id = await recordedSession();
    const ranges = ['bytes=1-', 'bytes=100-199', 'bytes=0-9', 'bytes=500-599'];
    for (const range of ranges) {
      const res = await api(`/sessions/${id}/recording.webm`, { headers: { range } });
      expect(res.status).toBe(206);
      await res.arrayBuffer();
    }
    const rows = await entries('recording.viewed', id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.details).toMatchObject({ window: { kind: 'recording', hours: 1 } });
    const [read] = (await reads(id)).filter((r) => r.kind === 'recording');
    expect(read?.requests).toBe(4);
    expect(read?.byteSpan?.from).toBe(0);
    expect(read?.byteSpan?.to).toBeGreaterThanOrEqual(599);
    expect(read?.bytes).toBeGreaterThan(300);
    // A download is its own action.
    const download = await api(`/sessions/${id}/recording.webm?download=1`);
    await download.arrayBuffer();
    expect(await entries('recording.downloaded', id)).toHaveLength(1);
  });

  it('makes a bulk evidence download one row naming its first file, with the totals beside it', async () => {
    const id = await recordedSession();
    expect((await api(`/sessions/${id}/manifest`)).status).toBe(200);
    const count = fixturePieces().length;
    for (let seq = 0; seq < count; seq++) {
      const res = await api(`/sessions/${id}/pieces/${seq}.webm`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const rows = await entries('evidence.downloaded', id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.details.first).toBe('manifest');
    expect((await reads(id)).find((r) => r.kind === 'evidence')?.requests).toBe(count + 1);
  });

  it('audits the activity, its map, and each search with its query', async () => {
    const id = await recordedSession();
    for (let i = 0; i < 3; i++) expect((await api(`/sessions/${id}/activity`)).status).toBe(200);
    expect((await api(`/sessions/${id}/activity/density`)).status).toBe(200);
    const viewed = await entries('activity.viewed', id);
    expect(viewed.map((e) => e.details.what).sort()).toEqual(['activity map', 'events']);
    expect((await reads(id)).find((r) => r.kind === 'activity')?.requests).toBe(3);

    expect((await api(`/sessions/${id}/activity?q=systemctl`)).status).toBe(200);
    const marker = `needle${crypto.randomUUID().slice(0, 8)}`;
    expect((await api(`/sessions?q=${marker}&in=processes`)).status).toBe(200);
    const searched = await entries('sessions.searched');
    expect(searched.find((e) => e.targetId === id)?.details).toEqual({ q: 'systemctl' });
    expect(searched.find((e) => e.details.q === marker)?.details).toMatchObject({ q: marker, in: ['processes'] });
  });

  it('keeps the totals from anyone without View Audit Log', async () => {
    const res = await request('/api/v1/audit/reads');
    expect(res.status).toBe(401);
  });
});
