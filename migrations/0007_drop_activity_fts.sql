-- Per-session search reads `activity_search` over the session's own search keys (worker/routes/activity.ts):
-- the first FTS5 index, `activity_fts`, is no longer read. Dropping it halves what ingest spends on indexing,
-- and with it goes the only index that held the raw text of redacted runs (`activity_search` holds
-- `<redacted>` for them).
DROP TRIGGER `activity_fts_insert`;
--> statement-breakpoint
DROP TRIGGER `activity_fts_delete`;
--> statement-breakpoint
DROP TABLE `activity_fts`;
