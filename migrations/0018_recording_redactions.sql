CREATE TABLE `recording_redactions` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`redactions` text NOT NULL,
	PRIMARY KEY(`session_id`, `seq`)
);
