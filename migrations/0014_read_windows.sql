CREATE TABLE `read_windows` (
	`actor_id` text NOT NULL,
	`session_id` text NOT NULL,
	`kind` text NOT NULL,
	`window_start` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`requests` integer NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`lowest_byte` integer,
	`highest_byte` integer,
	PRIMARY KEY(`actor_id`, `session_id`, `kind`, `window_start`)
);
