CREATE TABLE `login_throttle` (
	`username` text NOT NULL,
	`scope` text NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`last_failure_at` integer,
	`last_success_at` integer,
	`reported_at` integer,
	PRIMARY KEY(`username`, `scope`)
);
--> statement-breakpoint
DROP TABLE `login_failures`;