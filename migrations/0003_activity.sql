CREATE TABLE `activity` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`session_id` text NOT NULL,
	`batch` integer NOT NULL,
	`idx` integer NOT NULL,
	`type` text NOT NULL,
	`at_ms` integer NOT NULL,
	`end_ms` integer,
	`text` text,
	`app` text,
	`title` text,
	`name` text,
	`path` text,
	`user` text,
	`pid` integer,
	`ppid` integer,
	`redacted` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `activity_session_time` ON `activity` (`session_id`,`at_ms`);--> statement-breakpoint
CREATE INDEX `activity_session_type` ON `activity` (`session_id`,`type`);--> statement-breakpoint
CREATE TABLE `activity_batches` (
	`session_id` text NOT NULL,
	`batch` integer NOT NULL,
	`sha256` text NOT NULL,
	`stored` integer NOT NULL,
	`rejected` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`session_id`, `batch`)
);
