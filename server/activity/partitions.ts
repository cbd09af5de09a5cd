/**
 * Where activity lives. D1 stops at 10 GB a database, so activity is designed to be partitioned by month of
 * the session's creation (docs/activity.md): a session's events all go to one partition, a cross-session
 * search fans out over the partitions its date range touches and merges. Today there is one partition, `DB`;
 * adding one is a binding plus an entry here — the query layer already takes a list.
 */
export interface ActivityPartitions {
  /** The database holding a session's activity. */
  forSession(createdAt: number): D1Database;
  /** The databases a search over [from, to] must read. */
  covering(from: number | null, to: number | null): D1Database[];
}

export function activityPartitions(env: Env): ActivityPartitions {
  return {
    forSession: () => env.DB,
    covering: () => [env.DB],
  };
}
