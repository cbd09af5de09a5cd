CREATE TABLE `retention_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`summary` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `sessions` ADD `retention` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `archived_at` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `media_deleted_at` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `held_at` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `held_by` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `hold_reason` text;--> statement-breakpoint
CREATE INDEX `sessions_retention` ON `sessions` (`retention`,`ended_at`);--> statement-breakpoint
CREATE INDEX `activity_search_keys_activity` ON `activity_search_keys` (`activity_id`);