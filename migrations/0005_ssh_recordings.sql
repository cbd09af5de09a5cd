ALTER TABLE `activity` ADD `size` integer;--> statement-breakpoint
ALTER TABLE `sessions` ADD `format` text DEFAULT 'webm' NOT NULL;