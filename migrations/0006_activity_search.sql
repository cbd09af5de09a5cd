-- A redacted run (typed into a password prompt) is indexed as `<redacted>` whatever text it holds: search must
-- never find a secret that a launcher failed to replace.
-- Cross-session search that pages through every matching session (worker/activity/search.ts). A second FTS5
-- index over the same columns as `activity_fts`, split by search category (so no type filter is needed), whose
-- rowids are search keys `seq * 2^24 + n`: `seq` numbers sessions by their first event, `n` counts a
-- session's events, so each session's matches are adjacent and a search reads sessions newest first, stops
-- after a page, and resumes below a session (the page cursor). Contentless: the text stays in `activity`.
CREATE TABLE `activity_search_keys` (
	`key` integer PRIMARY KEY NOT NULL,
	`activity_id` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `activity_search_sessions` (
	`seq` integer PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`events` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `activity_search_sessions_session` ON `activity_search_sessions` (`session_id`,`seq`);--> statement-breakpoint
CREATE TABLE `activity_search_terms` (
	`term` text PRIMARY KEY NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE VIRTUAL TABLE `activity_search` USING fts5(
  `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`,
  content='', columnsize=0,
  tokenize='unicode61 remove_diacritics 2'
);
--> statement-breakpoint
-- The terms of events stored since the last flush (ingest empties it after every batch into
-- `activity_search_terms`): its vocabulary is small, so listing it is cheap, and its tokenizer is the index's.
CREATE VIRTUAL TABLE `activity_search_fresh` USING fts5(
  `text`, content='', columnsize=0, detail='none',
  tokenize='unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE VIRTUAL TABLE `activity_search_fresh_terms` USING fts5vocab(`activity_search_fresh`, 'row');
--> statement-breakpoint
CREATE TRIGGER `activity_search_insert` AFTER INSERT ON `activity`
BEGIN
  INSERT INTO `activity_search_sessions` (`session_id`)
    SELECT new.`session_id`
     WHERE NOT EXISTS (SELECT 1 FROM `activity_search_sessions`
                        WHERE `session_id` = new.`session_id` AND `events` < 16777216);
  UPDATE `activity_search_sessions` SET `events` = `events` + 1
   WHERE `seq` = (SELECT max(`seq`) FROM `activity_search_sessions` WHERE `session_id` = new.`session_id`);
  INSERT INTO `activity_search_keys` (`key`, `activity_id`)
    SELECT `seq` * 16777216 + `events` - 1, new.`id` FROM `activity_search_sessions`
     WHERE `seq` = (SELECT max(`seq`) FROM `activity_search_sessions` WHERE `session_id` = new.`session_id`);
  INSERT INTO `activity_search` (rowid, `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`)
  VALUES (
    last_insert_rowid(),
    CASE WHEN new.`type` = 'keys' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END END,
    CASE WHEN new.`type` = 'ssh.input' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END
         WHEN new.`type` = 'ssh.command' THEN new.`text`
         WHEN new.`type` = 'file.transfer' THEN new.`path` END,
    -- A file transfer is SSH activity: its path, protocol and direction are not an app, window or process.
    CASE WHEN new.`type` <> 'file.transfer' THEN new.`app` END,
    CASE WHEN new.`type` <> 'file.transfer' THEN new.`title` END,
    CASE WHEN new.`type` <> 'file.transfer' THEN new.`name` END,
    CASE WHEN new.`type` <> 'file.transfer' THEN new.`path` END,
    CASE WHEN new.`type` IN ('process.start', 'process.stop') THEN new.`text` END
  );
  INSERT INTO `activity_search_fresh` (rowid, `text`)
  VALUES (new.`id`, CASE WHEN new.`redacted` THEN '<redacted>' ELSE coalesce(new.`text`, '') END || ' ' || coalesce(new.`app`, '') || ' ' || coalesce(new.`title`, '') || ' ' ||
          coalesce(new.`name`, '') || ' ' || coalesce(new.`path`, ''));
END;
--> statement-breakpoint
-- Events are evidence and are not deleted one by one (retention drops whole partitions); if one is, its key is
-- found by a scan of `activity_search_keys`.
CREATE TRIGGER `activity_search_delete` AFTER DELETE ON `activity`
BEGIN
  INSERT INTO `activity_search` (`activity_search`, rowid, `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`)
    SELECT 'delete', `key`,
      CASE WHEN old.`type` = 'keys' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END END,
      CASE WHEN old.`type` = 'ssh.input' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END
           WHEN old.`type` = 'ssh.command' THEN old.`text`
           WHEN old.`type` = 'file.transfer' THEN old.`path` END,
      -- A file transfer is SSH activity: its path, protocol and direction are not an app, window or process.
      CASE WHEN old.`type` <> 'file.transfer' THEN old.`app` END,
      CASE WHEN old.`type` <> 'file.transfer' THEN old.`title` END,
      CASE WHEN old.`type` <> 'file.transfer' THEN old.`name` END,
      CASE WHEN old.`type` <> 'file.transfer' THEN old.`path` END,
      CASE WHEN old.`type` IN ('process.start', 'process.stop') THEN old.`text` END
      FROM `activity_search_keys` WHERE `activity_id` = old.`id`;
  DELETE FROM `activity_search_keys` WHERE `activity_id` = old.`id`;
END;
--> statement-breakpoint
-- Backfill: sessions numbered in the order of their first event, events keyed in id order.
INSERT INTO `activity_search_sessions` (`session_id`, `events`)
  SELECT `session_id`, count(*) FROM `activity` GROUP BY `session_id` ORDER BY min(`id`);
--> statement-breakpoint
INSERT INTO `activity_search_keys` (`key`, `activity_id`)
  SELECT s.`seq` * 16777216 + row_number() OVER (PARTITION BY a.`session_id` ORDER BY a.`id`) - 1, a.`id`
    FROM `activity` a JOIN `activity_search_sessions` s ON s.`session_id` = a.`session_id`;
--> statement-breakpoint
INSERT INTO `activity_search` (rowid, `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`)
  SELECT k.`key`,
    CASE WHEN a.`type` = 'keys' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END END,
    CASE WHEN a.`type` = 'ssh.input' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END
         WHEN a.`type` = 'ssh.command' THEN a.`text`
         WHEN a.`type` = 'file.transfer' THEN a.`path` END,
    -- A file transfer is SSH activity: its path, protocol and direction are not an app, window or process.
    CASE WHEN a.`type` <> 'file.transfer' THEN a.`app` END,
    CASE WHEN a.`type` <> 'file.transfer' THEN a.`title` END,
    CASE WHEN a.`type` <> 'file.transfer' THEN a.`name` END,
    CASE WHEN a.`type` <> 'file.transfer' THEN a.`path` END,
    CASE WHEN a.`type` IN ('process.start', 'process.stop') THEN a.`text` END
    FROM `activity_search_keys` k JOIN `activity` a ON a.`id` = k.`activity_id`
   ORDER BY k.`key`;
--> statement-breakpoint
INSERT INTO `activity_search_fresh` (rowid, `text`)
  SELECT `id`, CASE WHEN `redacted` THEN '<redacted>' ELSE coalesce(`text`, '') END || ' ' || coalesce(`app`, '') || ' ' || coalesce(`title`, '') || ' ' ||
         coalesce(`name`, '') || ' ' || coalesce(`path`, '')
    FROM `activity`;
--> statement-breakpoint
INSERT OR IGNORE INTO `activity_search_terms` (`term`) SELECT `term` FROM `activity_search_fresh_terms`;
--> statement-breakpoint
INSERT INTO `activity_search_fresh` (`activity_search_fresh`) VALUES ('delete-all');
