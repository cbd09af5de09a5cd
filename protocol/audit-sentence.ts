/**
 * One sentence per audit row, for people: "alice watched session alice@db-01 live", "bob terminated session … with
 * the message "…"". The console shows it with the actor and the session linked, and the audit export carries it
 * beside the raw fields. Everything quoted was typed by someone: it is text, never markup.
 */
/** A row as the audit API serves it (the fields the sentence reads). */
export interface AuditRow {
  action: string;
  actorName: string;
  actorKind: string;
  targetType: string | null;
  targetId: string | null;
  details: unknown;
  /** For a row about a session: whom and what it recorded (null when the session is unknown). */
  session?: { user: string; target: string } | null;
}

/** Plain text, the row's actor, or a session to link to. */
export type Segment = string | { actor: string } | { session: string; label: string };

type Details = Record<string, unknown>;
type Sentence = (row: AuditRow, d: Details) => Segment[];

const text = (value: unknown): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null;
const quoted = (value: unknown): string => {
  const t = text(value);
  return t === null ? '' : `“${t.length > 200 ? `${t.slice(0, 200)}…` : t}”`;
};

function session(row: AuditRow): Segment {
  if (!row.targetId) return 'a session';
  const label = row.session ? `${row.session.user}@${row.session.target}` : row.targetId;
  return { session: row.targetId, label: `session ${label}` };
}

function target(row: AuditRow): string {
  if (!row.targetId) return '';
  return row.targetType ? `${row.targetType.replace(/_/g, ' ')} ${row.targetId}` : row.targetId;
}

function settingsChange(d: Details): string {
  const before = d.before && typeof d.before === 'object' ? (d.before as Details) : {};
  const after = d.after && typeof d.after === 'object' ? (d.after as Details) : {};
  const changed = Object.keys(after).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  if (changed.length === 0) return ' (nothing changed)';
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  return `: ${changed
    .slice(0, 6)
    .map((key) => `${key} ${show(before[key])} → ${show(after[key])}`)
    .join(', ')}${changed.length > 6 ? `, and ${changed.length - 6} more` : ''}`;
}

/** A change of the rules by target, rule by rule: "recording level advanced → basic for db-*", "added *.eu (…)". */
function rulesChange(d: Details): string {
  type Rule = { targets?: unknown; recordingLevel?: unknown; storage?: unknown };
  const side = (value: unknown) => (value && typeof value === 'object' ? (value as Details) : {});
  const before = side(d.before);
  const after = side(d.after);
  const rules = (value: Details): Rule[] => (Array.isArray(value.rules) ? (value.rules as Rule[]) : []);
  const name = (v: unknown) => (v === undefined ? 'the default' : String(v));
  const parts: string[] = [];
  if (before.storage !== after.storage)
    parts.push(`save recordings to ${name(before.storage)} → ${name(after.storage)}`);
  const old = new Map(rules(before).map((rule) => [String(rule.targets), rule]));
  for (const rule of rules(after)) {
    const was = old.get(String(rule.targets));
    old.delete(String(rule.targets));
    const level = rule.recordingLevel === undefined ? '' : `recording level ${String(rule.recordingLevel)}`;
    const storage = rule.storage === undefined ? '' : `storage ${String(rule.storage)}`;
    if (!was) {
      parts.push(`added a rule for ${String(rule.targets)} (${[level, storage].filter(Boolean).join(', ')})`);
      continue;
    }
    if (was.recordingLevel !== rule.recordingLevel) {
      parts.push(
        `recording level ${name(was.recordingLevel)} → ${name(rule.recordingLevel)} for ${String(rule.targets)}`,
      );
    }
    if (was.storage !== rule.storage) {
      parts.push(`storage ${name(was.storage)} → ${name(rule.storage)} for ${String(rule.targets)}`);
    }
  }
  for (const targets of old.keys()) parts.push(`removed the rule for ${targets}`);
  const order = (value: Details) => rules(value).map((rule) => String(rule.targets));
  if (parts.length === 0 && JSON.stringify(order(before)) !== JSON.stringify(order(after))) {
    parts.push(`reordered the rules (${order(after).join(', ')})`);
  }
  return parts.length === 0 ? ' (nothing changed)' : `: ${parts.join('; ')}`;
}

const actor = (row: AuditRow): Segment => ({ actor: row.actorName });
const withReason = (d: Details) => (text(d.reason) ? ` (reason: ${quoted(d.reason)})` : '');

/** Keyed by action name; test/unit/audit-sentence.test.ts holds it to every action in AUDIT_ACTIONS. */
const SENTENCES: Record<string, Sentence> = {
  'login.succeeded': (r) => [actor(r), ' signed in'],
  'login.failed': (r, d) => [
    'A sign-in as ',
    actor(r),
    ` failed${text(d.failures) ? ` (${text(d.failures)} in a row from this address)` : ''}`,
  ],
  'login.throttled': (r, d) => [
    'Sign-ins as ',
    actor(r),
    ` were slowed after ${text(d.failures) ?? 'repeated'} failures`,
    text(d.waitSeconds) ? ` (${text(d.waitSeconds)} s wait)` : '',
  ],
  'login.locked': (r) => ['The account ', actor(r), ' was locked'],
  logout: (r) => [actor(r), ' signed out'],
  'password.changed': (r) => [actor(r), ' changed a password', r.targetId ? ` (${target(r)})` : ''],
  'session.launched': (r, d) => [
    actor(r),
    ' launched ',
    session(r),
    text(d.protocol) ? ` (${text(d.protocol)})` : '',
    d.origin === 'agent' ? ', recorded by the host agent' : '',
    text(d.policySource) && d.policySource !== 'settings' ? `, policy from ${text(d.policySource)}` : '',
  ],
  'session.watched_live': (r) => [actor(r), ' watched ', session(r), ' live'],
  'session.messaged': (r, d) => [actor(r), ' sent ', session(r), ` the message ${quoted(d.message)}`],
  'session.terminated': (r, d) => [
    actor(r),
    ' terminated ',
    session(r),
    text(d.message) ? ` with the message ${quoted(d.message)}` : '',
  ],
  'socket.closed_for_flood': (r) => ['The server closed a socket of ', session(r), ' that sent too much'],
  'recording.viewed': (r) => [actor(r), ' played the recording of ', session(r)],
  'recording.downloaded': (r) => [actor(r), ' downloaded the recording of ', session(r)],
  'evidence.downloaded': (r) => [actor(r), ' downloaded the evidence of ', session(r)],
  'activity.viewed': (r, d) => [
    actor(r),
    d.what === 'density' ? ' read the activity map of ' : ' read the activity of ',
    session(r),
  ],
  'activity.exported': (r, d) => [actor(r), ` downloaded ${text(d.file) ?? 'the activity'} of `, session(r)],
  'sessions.searched': (r, d) =>
    r.targetId
      ? [actor(r), ` searched ${quoted(d.q)} in `, session(r)]
      : [actor(r), ` searched sessions for ${quoted(d.q)}`],
  'settings.changed': (r, d) =>
    r.targetId === 'recording-rules'
      ? [actor(r), ` changed Session Recording${rulesChange(d)}`]
      : [actor(r), ` changed the ${r.targetId ?? ''} settings${settingsChange(d)}`],
  'processing.requested': (r) => [actor(r), ' asked for an MP4 of ', session(r)],
  'processing.retried': (r) =>
    r.targetId
      ? [actor(r), ' retried the processing of ', session(r)]
      : [actor(r), ' retried every failed processing job'],
  'processing.leased': (r) => ['Processor ', actor(r), ' took the conversion of ', session(r)],
  'processing.failed': (r, d) => [
    'The conversion of ',
    session(r),
    ` failed${text(d.cause) ? `: ${quoted(d.cause)}` : text(d.error) ? `: ${quoted(d.error)}` : ''}`,
  ],
  'processing.completed': (r) => ['Processor ', actor(r), ' finished the MP4 of ', session(r)],
  'processing.source_read': (r) => ['Processor ', actor(r), ' read the recording of ', session(r)],
  'retention.run': (_r, d) => {
    const count = (key: string) => (typeof d[key] === 'number' ? (d[key] as number) : 0);
    const failures = Array.isArray(d.failures) ? d.failures.length : 0;
    return [
      `The retention sweep archived ${count('archived')} and deleted ${count('deleted')} recording(s)`,
      failures > 0 ? `; ${failures} failed` : '',
      d.interrupted === true ? ' (interrupted; resumed by a later run)' : '',
    ];
  },
  'session.archived': (r) => ['Retention moved the recording of ', session(r), ' to the archive'],
  'session.media_deleted': (r) => ['Retention deleted the recording of ', session(r)],
  'session.held': (r, d) => [actor(r), ' put ', session(r), ` on legal hold${withReason(d)}`],
  'session.released': (r, d) => [actor(r), ' released the legal hold on ', session(r), withReason(d)],
  'user.created': (r, d) => [actor(r), ` created the user ${text(d.username) ?? target(r)}`],
  'user.updated': (r, d) => [actor(r), ` changed the user ${text(d.username) ?? target(r)}`],
  'user.unlocked': (r, d) => [actor(r), ` cleared the failed sign-ins of ${text(d.username) ?? target(r)}`],
  'key.created': (r, d) => [
    actor(r),
    ` created the API key ${quoted(d.name)}`,
    Array.isArray(d.scopes) ? ` (${d.scopes.join(', ')})` : '',
  ],
  'key.revoked': (r, d) => [actor(r), ` revoked the API key ${quoted(d.name)}`],
  'audit.exported': (r, d) => [
    actor(r),
    ` exported the audit log as ${text(d.format)?.toUpperCase() ?? 'a file'}`,
    d.complete === false ? ' (the first 100,000 rows of its filter)' : '',
  ],
};

/** The actions that have a sentence of their own (every other action is told by `auditSentence`'s fallback). */
export const ACTIONS_WITH_SENTENCES: readonly string[] = Object.keys(SENTENCES);

/** The row as one sentence. An action without its own sentence (a newer server) still reads: actor, action, target. */
export function auditSentence(row: AuditRow): Segment[] {
  const details = row.details && typeof row.details === 'object' ? (row.details as Details) : {};
  const sentence = SENTENCES[row.action];
  const segments = sentence
    ? sentence(row, details)
    : [
        actor(row),
        ` ${row.action}`,
        ...(row.targetType === 'session' ? [' ', session(row)] : [target(row) ? ` ${target(row)}` : '']),
      ];
  return segments.filter((segment) => segment !== '');
}

/** The sentence as plain text (the export's column). */
export function auditSentenceText(row: AuditRow): string {
  return auditSentence(row)
    .map((segment) => (typeof segment === 'string' ? segment : 'actor' in segment ? segment.actor : segment.label))
    .join('');
}
