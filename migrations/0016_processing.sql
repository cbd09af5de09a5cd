CREATE TABLE `processing_jobs` (
	`session_id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`codec` text NOT NULL,
	`origin` text NOT NULL,
	`requested_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`not_before` integer NOT NULL,
	`lease_id` text,
	`leased_by` text,
	`lease_expires_at` integer,
	`percent` integer,
	`upload_id` text,
	`output_key` text,
	`output_bytes` integer,
	`output_sha256` text,
	`output_duration_ms` integer,
	`error` text,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `processing_jobs_queue` ON `processing_jobs` (`status`,`not_before`);--> statement-breakpoint
CREATE TABLE `processing_parts` (
	`session_id` text NOT NULL,
	`lease_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`session_id`, `lease_id`, `part_number`),
	FOREIGN KEY (`session_id`) REFERENCES `processing_jobs`(`session_id`) ON UPDATE no action ON DELETE cascade
);
