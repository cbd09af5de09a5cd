-- Where each session's media is saved (a storage location: server/storage.ts) and its recording level. Sessions
-- from before were recorded at the advanced level into the default bucket.
ALTER TABLE `sessions` ADD `storage` text DEFAULT 'RECORDINGS' NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `recording_level` text DEFAULT 'advanced' NOT NULL;
