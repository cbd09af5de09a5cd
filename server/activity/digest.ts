/**
 * The activity digest in a session's evidence manifest: SHA-256 over the session's events as the activity API
 * lists them (time order), each as canonical JSON plus "\n" — `activityDigest` in protocol/evidence.ts,
 * computed here page by page so a long session never sits in memory whole.
 */
import { and, asc, eq, gt, or } from 'drizzle-orm';
import { canonicalJson } from '../../protocol/evidence.ts';
import { hex } from '../../protocol/hex.ts';
import { activity } from '../../schema/index.ts';
import { database } from '../db/index.ts';
import { eventView } from './view.ts';

const PAGE = 1000;

export async function activitySummary(db: D1Database, sessionId: string): Promise<{ events: number; sha256: string }> {
  const hasher = new crypto.DigestStream('SHA-256');
  const writer = hasher.getWriter();
  const encoder = new TextEncoder();
  let events = 0;
  let after: { atMs: number; id: number } | null = null;
  for (;;) {
    const page = await database(db)
      .select()
      .from(activity)
      .where(
        and(
          eq(activity.sessionId, sessionId),
          after
            ? or(gt(activity.atMs, after.atMs), and(eq(activity.atMs, after.atMs), gt(activity.id, after.id)))
            : undefined,
        ),
      )
      .orderBy(asc(activity.atMs), asc(activity.id))
      .limit(PAGE)
      .all();
    for (const row of page) await writer.write(encoder.encode(`${canonicalJson(eventView(row))}\n`));
    events += page.length;
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = { atMs: last.atMs, id: last.id };
  }
  await writer.close();
  return { events, sha256: hex(new Uint8Array(await hasher.digest)) };
}
