ALTER TABLE `sessions` ADD `origin` text DEFAULT 'launched' NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `agent_login` text;
