ALTER TABLE `sessions` ADD `policy_source` text DEFAULT 'settings' NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `policy_changes` text DEFAULT '[]' NOT NULL;