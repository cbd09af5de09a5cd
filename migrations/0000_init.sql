CREATE TABLE `pieces` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`size` integer NOT NULL,
	`start_ms` integer NOT NULL,
	`end_ms` integer NOT NULL,
	`keyframe` integer NOT NULL,
	`sha256` text NOT NULL,
	`stored_at` integer NOT NULL,
	PRIMARY KEY(`session_id`, `seq`),
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `pieces_time` ON `pieces` (`session_id`,`start_ms`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user` text NOT NULL,
	`target` text NOT NULL,
	`protocol` text NOT NULL,
	`status` text NOT NULL,
	`end_reason` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`ended_at` integer,
	`duration_ms` integer,
	`policy` text NOT NULL,
	`launched_by` text NOT NULL,
	`recording_status` text NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`pieces` integer DEFAULT 0 NOT NULL,
	`media_duration_ms` integer,
	`recording_bytes` integer,
	`missing_pieces` text,
	`recording_error` text
);
--> statement-breakpoint
CREATE INDEX `sessions_status_started` ON `sessions` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `sessions_user` ON `sessions` (`user`,`created_at`);--> statement-breakpoint
CREATE INDEX `sessions_target` ON `sessions` (`target`,`created_at`);--> statement-breakpoint
CREATE INDEX `sessions_created` ON `sessions` (`created_at`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer DEFAULT (unixepoch() * 1000) NOT NULL
);
