/** The activity map's data (protocol/activity-view.ts): per time bucket, screen change, keystrokes, process events. */
import type { Density, DensityBucket } from '../../protocol/activity-view.ts';

export async function activityDensity(
  db: D1Database,
  sessionId: string,
  durationMs: number,
  count: number,
  media: ReadonlyArray<{ startMs: number; size: number }>,
): Promise<Density> {
  const bucketMs = Math.max(1, Math.ceil(durationMs / count));
  const buckets: DensityBucket[] = Array.from({ length: count }, (_, i) => ({
    startMs: i * bucketMs,
    screenBytes: 0,
    keystrokes: 0,
    processEvents: 0,
    windowChanges: 0,
  }));
  const at = (ms: number) => buckets[Math.min(count - 1, Math.max(0, Math.floor(ms / bucketMs)))] as DensityBucket;
  for (const piece of media) at(piece.startMs).screenBytes += piece.size;
  const { results } = await db
    .prepare(
      `SELECT at_ms / ?2 AS b,
              SUM(CASE WHEN type IN ('keys', 'ssh.input') AND NOT redacted THEN length(text) ELSE 0 END) AS keys,
              SUM(CASE WHEN type IN ('process.start', 'process.stop', 'ssh.command', 'file.transfer') THEN 1 ELSE 0 END) AS processes,
              SUM(CASE WHEN type = 'window.focus' THEN 1 ELSE 0 END) AS windows
         FROM activity WHERE session_id = ?1 GROUP BY b`,
    )
    .bind(sessionId, bucketMs)
    .all<{ b: number; keys: number; processes: number; windows: number }>();
  for (const row of results) {
    const bucket = at(row.b * bucketMs);
    bucket.keystrokes += row.keys;
    bucket.processEvents += row.processes;
    bucket.windowChanges += row.windows;
  }
  return { durationMs, bucketMs, buckets };
}
