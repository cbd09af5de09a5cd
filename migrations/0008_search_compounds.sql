-- Words with inner punctuation — hostnames, paths, file and user names (`app-qa-08`, `/opt/app/syslog.conf`,
-- `ben.schulz`) — become tokens of their own in `activity_search`, beside their parts. Before, a search for
-- one was a phrase of its parts (`app qa 08`), and when the parts are common words FTS5 had to check
-- positions in every event holding all of them (7–19 ms on 1,000,000 events, the slowest searches by far).
-- Now such a word is looked up in a list of these compound words (`activity_search_compounds`, with a trigram
-- index for substrings: `qa-08` finds `app-qa-08.corp`) and searched as the few whole tokens it stands for
-- (worker/activity/search.ts; docs/activity.md).
--
-- How each column is indexed: its text as is, tokenized with `- . _ / \` as word characters (the compounds),
-- then, when it has any of them, a newline and the text again with those characters as spaces (the parts:
-- `qa`, `08`, `syslog` are still words). The keys (`activity_search_keys`, `activity_search_sessions`) stay.
DROP TRIGGER `activity_search_insert`;
--> statement-breakpoint
DROP TRIGGER `activity_search_delete`;
--> statement-breakpoint
DROP TABLE `activity_search`;
--> statement-breakpoint
DROP TABLE `activity_search_fresh_terms`;
--> statement-breakpoint
DROP TABLE `activity_search_fresh`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `activity_search` USING fts5(
  `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`,
  content='', columnsize=0,
  tokenize="unicode61 remove_diacritics 2 tokenchars '-._/\'"
);
--> statement-breakpoint
-- Terms of the events stored since the last flush (ingest moves them after every batch: plain words into
-- `activity_search_terms`, compounds into `activity_search_compounds`).
CREATE VIRTUAL TABLE `activity_search_fresh` USING fts5(
  `text`, content='', columnsize=0, detail='none',
  tokenize="unicode61 remove_diacritics 2 tokenchars '-._/\'"
);
--> statement-breakpoint
CREATE VIRTUAL TABLE `activity_search_fresh_terms` USING fts5vocab(`activity_search_fresh`, 'row');
--> statement-breakpoint
CREATE TABLE `activity_search_compounds` (
	`id` integer PRIMARY KEY NOT NULL,
	`term` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `activity_search_compounds_term` ON `activity_search_compounds` (`term`);
--> statement-breakpoint
-- Substrings of compound words: a trigram index over the list (external content: the terms live once).
CREATE VIRTUAL TABLE `activity_search_compound_grams` USING fts5(
  `term`, content='activity_search_compounds', content_rowid='id', tokenize='trigram'
);
--> statement-breakpoint
CREATE TRIGGER `activity_search_compounds_insert` AFTER INSERT ON `activity_search_compounds`
BEGIN
  INSERT INTO `activity_search_compound_grams` (rowid, `term`) VALUES (new.`id`, new.`term`);
END;
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
    CASE WHEN (CASE WHEN new.`type` = 'keys' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` = 'keys' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` = 'keys' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` = 'keys' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END END) END,
    CASE WHEN (CASE WHEN new.`type` = 'ssh.input' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END WHEN new.`type` = 'ssh.command' THEN new.`text` WHEN new.`type` = 'file.transfer' THEN new.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` = 'ssh.input' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END WHEN new.`type` = 'ssh.command' THEN new.`text` WHEN new.`type` = 'file.transfer' THEN new.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` = 'ssh.input' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END WHEN new.`type` = 'ssh.command' THEN new.`text` WHEN new.`type` = 'file.transfer' THEN new.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` = 'ssh.input' THEN CASE WHEN new.`redacted` THEN '<redacted>' ELSE new.`text` END WHEN new.`type` = 'ssh.command' THEN new.`text` WHEN new.`type` = 'file.transfer' THEN new.`path` END) END,
    CASE WHEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`app` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`app` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` <> 'file.transfer' THEN new.`app` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` <> 'file.transfer' THEN new.`app` END) END,
    CASE WHEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`title` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`title` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` <> 'file.transfer' THEN new.`title` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` <> 'file.transfer' THEN new.`title` END) END,
    CASE WHEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`name` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`name` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` <> 'file.transfer' THEN new.`name` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` <> 'file.transfer' THEN new.`name` END) END,
    CASE WHEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` <> 'file.transfer' THEN new.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` <> 'file.transfer' THEN new.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` <> 'file.transfer' THEN new.`path` END) END,
    CASE WHEN (CASE WHEN new.`type` IN ('process.start', 'process.stop') THEN new.`text` END) GLOB '*[-._/\]*' THEN (CASE WHEN new.`type` IN ('process.start', 'process.stop') THEN new.`text` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`type` IN ('process.start', 'process.stop') THEN new.`text` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN new.`type` IN ('process.start', 'process.stop') THEN new.`text` END) END
  );
  INSERT INTO `activity_search_fresh` (rowid, `text`)
  VALUES (new.`id`, (CASE WHEN new.`redacted` THEN '<redacted>' ELSE coalesce(new.`text`, '') END || ' ' || coalesce(new.`app`, '') || ' ' || coalesce(new.`title`, '') || ' ' || coalesce(new.`name`, '') || ' ' || coalesce(new.`path`, '')) || char(10) || replace(replace(replace(replace(replace((CASE WHEN new.`redacted` THEN '<redacted>' ELSE coalesce(new.`text`, '') END || ' ' || coalesce(new.`app`, '') || ' ' || coalesce(new.`title`, '') || ' ' || coalesce(new.`name`, '') || ' ' || coalesce(new.`path`, '')), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' '));
END;
--> statement-breakpoint
-- Events are evidence and are not deleted one by one (retention drops whole partitions); if one is, its key is
-- found by a scan of `activity_search_keys`. A contentless delete repeats the inserted values exactly.
CREATE TRIGGER `activity_search_delete` AFTER DELETE ON `activity`
BEGIN
  INSERT INTO `activity_search` (`activity_search`, rowid, `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`)
    SELECT 'delete', `key`,
      CASE WHEN (CASE WHEN old.`type` = 'keys' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` = 'keys' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` = 'keys' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` = 'keys' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END END) END,
      CASE WHEN (CASE WHEN old.`type` = 'ssh.input' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END WHEN old.`type` = 'ssh.command' THEN old.`text` WHEN old.`type` = 'file.transfer' THEN old.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` = 'ssh.input' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END WHEN old.`type` = 'ssh.command' THEN old.`text` WHEN old.`type` = 'file.transfer' THEN old.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` = 'ssh.input' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END WHEN old.`type` = 'ssh.command' THEN old.`text` WHEN old.`type` = 'file.transfer' THEN old.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` = 'ssh.input' THEN CASE WHEN old.`redacted` THEN '<redacted>' ELSE old.`text` END WHEN old.`type` = 'ssh.command' THEN old.`text` WHEN old.`type` = 'file.transfer' THEN old.`path` END) END,
      CASE WHEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`app` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`app` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` <> 'file.transfer' THEN old.`app` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` <> 'file.transfer' THEN old.`app` END) END,
      CASE WHEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`title` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`title` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` <> 'file.transfer' THEN old.`title` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` <> 'file.transfer' THEN old.`title` END) END,
      CASE WHEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`name` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`name` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` <> 'file.transfer' THEN old.`name` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` <> 'file.transfer' THEN old.`name` END) END,
      CASE WHEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` <> 'file.transfer' THEN old.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` <> 'file.transfer' THEN old.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` <> 'file.transfer' THEN old.`path` END) END,
      CASE WHEN (CASE WHEN old.`type` IN ('process.start', 'process.stop') THEN old.`text` END) GLOB '*[-._/\]*' THEN (CASE WHEN old.`type` IN ('process.start', 'process.stop') THEN old.`text` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN old.`type` IN ('process.start', 'process.stop') THEN old.`text` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN old.`type` IN ('process.start', 'process.stop') THEN old.`text` END) END
      FROM `activity_search_keys` WHERE `activity_id` = old.`id`;
  DELETE FROM `activity_search_keys` WHERE `activity_id` = old.`id`;
END;
--> statement-breakpoint
-- Backfill: every stored event, under the key it already has.
INSERT INTO `activity_search` (rowid, `typed`, `ssh`, `app`, `title`, `name`, `path`, `command`)
  SELECT k.`key`,
    CASE WHEN (CASE WHEN a.`type` = 'keys' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` = 'keys' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` = 'keys' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` = 'keys' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END END) END,
    CASE WHEN (CASE WHEN a.`type` = 'ssh.input' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END WHEN a.`type` = 'ssh.command' THEN a.`text` WHEN a.`type` = 'file.transfer' THEN a.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` = 'ssh.input' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END WHEN a.`type` = 'ssh.command' THEN a.`text` WHEN a.`type` = 'file.transfer' THEN a.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` = 'ssh.input' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END WHEN a.`type` = 'ssh.command' THEN a.`text` WHEN a.`type` = 'file.transfer' THEN a.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` = 'ssh.input' THEN CASE WHEN a.`redacted` THEN '<redacted>' ELSE a.`text` END WHEN a.`type` = 'ssh.command' THEN a.`text` WHEN a.`type` = 'file.transfer' THEN a.`path` END) END,
    CASE WHEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`app` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`app` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` <> 'file.transfer' THEN a.`app` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` <> 'file.transfer' THEN a.`app` END) END,
    CASE WHEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`title` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`title` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` <> 'file.transfer' THEN a.`title` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` <> 'file.transfer' THEN a.`title` END) END,
    CASE WHEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`name` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`name` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` <> 'file.transfer' THEN a.`name` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` <> 'file.transfer' THEN a.`name` END) END,
    CASE WHEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`path` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` <> 'file.transfer' THEN a.`path` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` <> 'file.transfer' THEN a.`path` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` <> 'file.transfer' THEN a.`path` END) END,
    CASE WHEN (CASE WHEN a.`type` IN ('process.start', 'process.stop') THEN a.`text` END) GLOB '*[-._/\]*' THEN (CASE WHEN a.`type` IN ('process.start', 'process.stop') THEN a.`text` END) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`type` IN ('process.start', 'process.stop') THEN a.`text` END), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ') ELSE (CASE WHEN a.`type` IN ('process.start', 'process.stop') THEN a.`text` END) END
    FROM `activity_search_keys` k JOIN `activity` a ON a.`id` = k.`activity_id`
   ORDER BY k.`key`;
--> statement-breakpoint
DELETE FROM `activity_search_terms`;
--> statement-breakpoint
INSERT INTO `activity_search_fresh` (rowid, `text`)
  SELECT a.`id`, (CASE WHEN a.`redacted` THEN '<redacted>' ELSE coalesce(a.`text`, '') END || ' ' || coalesce(a.`app`, '') || ' ' || coalesce(a.`title`, '') || ' ' || coalesce(a.`name`, '') || ' ' || coalesce(a.`path`, '')) || char(10) || replace(replace(replace(replace(replace((CASE WHEN a.`redacted` THEN '<redacted>' ELSE coalesce(a.`text`, '') END || ' ' || coalesce(a.`app`, '') || ' ' || coalesce(a.`title`, '') || ' ' || coalesce(a.`name`, '') || ' ' || coalesce(a.`path`, '')), '-', ' '), '.', ' '), '_', ' '), '/', ' '), '\', ' ')
    FROM `activity` a;
--> statement-breakpoint
INSERT OR IGNORE INTO `activity_search_terms` (`term`) SELECT `term` FROM `activity_search_fresh_terms` WHERE `term` NOT GLOB '*[-._/\]*';
--> statement-breakpoint
INSERT OR IGNORE INTO `activity_search_compounds` (`term`) SELECT `term` FROM `activity_search_fresh_terms` WHERE `term` GLOB '*[-._/\]*';
--> statement-breakpoint
INSERT INTO `activity_search_fresh` (`activity_search_fresh`) VALUES ('delete-all');
