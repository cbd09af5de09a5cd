-- Full-text index over activity: keystroke runs, SSH client data, command lines, application names,
-- window titles, process names and paths. External-content FTS5: the text lives once, in `activity`.
-- (`wrangler d1 export` refuses databases with virtual tables: back up with D1 Time Travel.)
CREATE VIRTUAL TABLE `activity_fts` USING fts5(
  `text`, `app`, `title`, `name`, `path`,
  content='activity', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE TRIGGER `activity_fts_insert` AFTER INSERT ON `activity`
BEGIN
  INSERT INTO `activity_fts` (rowid, `text`, `app`, `title`, `name`, `path`)
  VALUES (new.`id`, new.`text`, new.`app`, new.`title`, new.`name`, new.`path`);
END;
--> statement-breakpoint
CREATE TRIGGER `activity_fts_delete` AFTER DELETE ON `activity`
BEGIN
  INSERT INTO `activity_fts` (`activity_fts`, rowid, `text`, `app`, `title`, `name`, `path`)
  VALUES ('delete', old.`id`, old.`text`, old.`app`, old.`title`, old.`name`, old.`path`);
END;
