import type { ActivityItem } from '../../protocol/activity-view.ts';
import type { activity } from '../../schema/index.ts';

/** A stored event as the API shows it (and as the evidence manifest's activity digest covers it). */
export function eventView(row: typeof activity.$inferSelect): ActivityItem {
  return {
    id: row.id,
    type: row.type,
    offsetMs: row.atMs,
    endMs: row.endMs,
    text: row.text,
    app: row.app,
    title: row.title,
    name: row.name,
    path: row.path,
    user: row.user,
    pid: row.pid,
    ppid: row.ppid,
    redacted: row.redacted,
    // Only file transfers carry a size; leaving it out elsewhere keeps older sessions' activity digests as sealed.
    ...(row.size === null ? {} : { size: row.size }),
  };
}
