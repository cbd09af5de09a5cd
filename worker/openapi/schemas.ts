/**
 * Response bodies, for the OpenAPI document only (the routes build their replies inline; request schemas come
 * from the routes' own validators). Objects are loose so that a field added to a reply does not break them;
 * test/workers/openapi.test.ts parses real replies with them so they cannot drift from what is sent.
 */
import { z } from 'zod';
import { ACTIVITY_TYPES, ActivityAck } from '../../protocol/activity.ts';
import { PublicKeyReply, SignedManifest } from '../../protocol/evidence.ts';
import { ErrorBody, LaunchReply, PieceAck } from '../../protocol/ingest.ts';
import { AgentPolicyReply, AgentSettings } from '../../protocol/agent-policy.ts';
import { ApiKeyScope, Permission } from '../../protocol/permissions.ts';
import { RedactionSettings } from '../../protocol/redaction.ts';
import { RetentionMark } from '../../protocol/lifecycle.ts';
import { RetentionSettings } from '../../protocol/retention.ts';
import { CaptureStatus, SessionEndpoints } from '../../protocol/control.ts';
import { ServerRestartReply } from '../../protocol/server-restart.ts';
import { ProcessingView } from '../../protocol/processing.ts';
import { PROCESSING_SCHEMAS } from './processing-schemas.ts';
import {
  AgentLogin,
  EndReason,
  Policy,
  PolicySource,
  Protocol,
  RecordingFormat,
  RecordingLevel,
  RecordingStatus,
  SessionOrigin,
  SessionStatus,
} from '../../protocol/session.ts';
import { RecordingRules, StorageLocation } from '../../protocol/recording-rules.ts';

const Timestamp = z.iso.datetime({ offset: true });

const Recording = z.looseObject({
  status: RecordingStatus,
  pieces: z.number().int(),
  bytes: z.number().int(),
  missingPieces: z
    .array(z.looseObject({ from: z.number().int(), to: z.number().int() }))
    .describe('Ranges of sequence numbers that never arrived.'),
  recordingBytes: z.number().int().nullable(),
  mediaDurationMs: z.number().int().nullable(),
  error: z.string().nullable(),
  url: z.string().nullable().describe('Where the finished recording plays from; null until it is ready.'),
});

const Viewer = z.looseObject({ id: z.string(), name: z.string(), since: Timestamp });

const Hold = z
  .looseObject({ since: Timestamp, by: z.string().nullable(), reason: z.string().nullable() })
  .describe('A legal hold: the session is never deleted by retention until it is released.');

/** What retention did to a session (also in the session view as `retention`). */
const SessionRetention = z.looseObject({
  state: RetentionMark.nullable().describe('null: as sealed; archived; deleting (under way); deleted.'),
  archivedAt: Timestamp.nullable(),
  mediaDeletedAt: Timestamp.nullable(),
  hold: Hold.nullable(),
  notice: z.string().nullable().describe('“recording deleted by retention on DATE” once the media is deleted.'),
  archiveDueAt: Timestamp.nullable().optional().describe('When the rules in force archive it; null: they will not.'),
  deleteDueAt: Timestamp.nullable().optional().describe('When the rules in force delete it; null: they will not.'),
});

export const Session = z.looseObject({
  id: z.uuid(),
  user: z.string(),
  target: z.string(),
  protocol: Protocol,
  format: RecordingFormat,
  status: SessionStatus,
  endReason: EndReason.nullable(),
  createdAt: Timestamp.nullable(),
  startedAt: Timestamp.nullable(),
  endedAt: Timestamp.nullable(),
  durationMs: z.number().int().nullable(),
  policy: Policy,
  recordingLevel: RecordingLevel.describe(
    '`basic`: the screen only (activity from screen changes); `advanced`: plus keystrokes, processes, windows.',
  ),
  storage: z.string().describe('The storage location (an R2 binding, e.g. RECORDINGS) its media is saved in.'),
  policySource: z
    .looseObject({ kind: PolicySource, changes: z.array(z.string()), launchedBy: z.string() })
    .describe('Whether the policy is the settings, made stricter at launch, or weakened by a policy:override key.'),
  origin: SessionOrigin.describe('`agent`: recorded by witness-agent on its host (not launched); else `launched`.'),
  agentLogin: AgentLogin.nullable().describe('For `agent` sessions: the login’s terminal and remote address.'),
  endpoints: SessionEndpoints.nullable().describe(
    'Where it was recorded from: the launcher’s host, the SSH client, the address its socket came from.',
  ),
  capture: CaptureStatus.nullable().describe(
    'How the launcher captured activity: processes by `netlink` (the kernel’s events: every process) or `poll` ' +
      '(`pollMs`: a shorter process may be missed) or `none`, with `excluded` (the user’s processes outside the ' +
      'session, counted, not recorded); null until the launcher said.',
  ),
  redactions: z
    .record(z.string(), z.number().int())
    .optional()
    .describe('(One session) How many secrets of each kind its activity shows as replaced.'),
  recordingRedactions: z
    .record(z.string(), z.number().int())
    .optional()
    .describe('(One session) How many secrets of each kind its terminal recording (.cast) shows as replaced.'),
  recording: Recording,
  processing: ProcessingView.nullable()
    .optional()
    .describe('Its MP4 (docs/processing.md): queued, processing, ready or failed with the cause; null when none.'),
  retention: SessionRetention.describe('What retention did: archived, deleted (with the day), or held.'),
  live: z.looseObject({ launcherConnected: z.boolean(), viewers: z.array(Viewer) }).nullable(),
});

const SearchMatch = z.looseObject({ type: z.string(), offsetMs: z.number().int(), snippet: z.string() });

export const SessionPage = z.looseObject({
  sessions: z.array(
    Session.extend({
      matches: z.array(SearchMatch).optional().describe('With `q`: where the text was found in the session.'),
    }),
  ),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
});

export const TerminateReply = z.looseObject({
  delivered: z.boolean().describe('Whether a launcher was connected to receive the command.'),
  status: SessionStatus,
  endReason: EndReason.nullable(),
});

const EventView = z.looseObject({
  id: z.number().int(),
  type: z.enum(ACTIVITY_TYPES),
  offsetMs: z.number().int().describe('Milliseconds on the session clock (0 = recording start).'),
  endMs: z.number().int().nullable(),
  text: z.string().nullable(),
  app: z.string().nullable(),
  title: z.string().nullable(),
  name: z.string().nullable(),
  path: z.string().nullable(),
  user: z.string().nullable(),
  pid: z.number().int().nullable(),
  ppid: z.number().int().nullable(),
  redacted: z.boolean(),
  size: z.number().int().optional(),
});

export const ActivityPage = z.looseObject({ events: z.array(EventView), nextCursor: z.string().nullable() });

export const Density = z.looseObject({
  durationMs: z.number().int(),
  bucketMs: z.number().int(),
  buckets: z.array(
    z.looseObject({
      startMs: z.number().int(),
      screenBytes: z.number().int(),
      keystrokes: z.number().int(),
      processEvents: z.number().int(),
      windowChanges: z.number().int(),
    }),
  ),
});

export const Me = z.looseObject({
  kind: z.enum(['user', 'api-key', 'bootstrap']),
  name: z.string(),
  permissions: z.array(Permission),
  csrfToken: z.string().nullable().describe('Send as `x-csrf-token` on writes made with the login cookie.'),
  mustChangePassword: z.boolean(),
});

export const LoginReply = z.looseObject({
  user: z.looseObject({
    id: z.uuid(),
    username: z.string(),
    displayName: z.string(),
    permissions: z.array(Permission),
    mustChangePassword: z.boolean(),
  }),
  csrfToken: z.string(),
});

export const Ok = z.looseObject({ ok: z.literal(true) });

export const User = z.looseObject({
  id: z.uuid(),
  username: z.string(),
  displayName: z.string(),
  permissions: z.array(Permission),
  disabled: z.boolean(),
  mustChangePassword: z.boolean(),
  createdAt: Timestamp,
  lastLoginAt: Timestamp.nullable(),
  signInThrottled: z
    .boolean()
    .describe('Failed sign-ins make attempts at this account wait; `POST /users/{id}/unlock` clears them.'),
});

export const UserList = z.looseObject({ users: z.array(User) });

export const ApiKey = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the secret, to recognise a key by.'),
  scopes: z.array(ApiKeyScope),
  host: z.string().nullable(),
  createdBy: z.string(),
  createdAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
});

export const KeyList = z.looseObject({ keys: z.array(ApiKey) });

export const NewKeyReply = z.looseObject({
  key: ApiKey,
  secret: z.string().describe('The key itself; shown this once, stored only as a hash.'),
});

export const AuditPage = z.looseObject({
  entries: z.array(
    z.looseObject({
      id: z.number().int(),
      at: Timestamp,
      actorKind: z.string(),
      actorId: z.string().nullable(),
      actorName: z.string(),
      action: z.string(),
      targetType: z.string().nullable(),
      targetId: z.string().nullable(),
      ip: z.string().nullable(),
      userAgent: z.string().nullable(),
      details: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
  nextCursor: z.number().int().nullable(),
});

export const Health = z.looseObject({ ok: z.literal(true) });

/** Every named body, as it appears under `components.schemas`. */
const ReadWindowList = z.looseObject({
  reads: z.array(
    z.looseObject({
      actor: z.string(),
      session: z.string(),
      kind: z.string(),
      window: Timestamp,
      firstAt: Timestamp,
      lastAt: Timestamp,
      requests: z.number().int(),
      bytes: z.number().int(),
      byteSpan: z.looseObject({ from: z.number().int(), to: z.number().int() }).nullable(),
    }),
  ),
});

const HoldReply = z.looseObject({ hold: Hold.nullable() });

const RetentionPreview = z.looseObject({
  at: Timestamp.describe('When the next scheduled run starts.'),
  settings: RetentionSettings,
  archive: z.number().int().describe('Sessions it would archive.'),
  delete: z.number().int().describe('Sessions whose media it would delete.'),
  held: z.number().int().describe('Sessions due for deletion that a legal hold keeps.'),
  unfinished: z.number().int().describe('Deletions an earlier run began and did not finish.'),
});

export const SCHEMAS = {
  RetentionSettings,
  RetentionPreview,
  SessionRetention,
  HoldReply,
  ReadWindowList,
  Error: ErrorBody,
  Session,
  SessionPage,
  TerminateReply,
  ActivityPage,
  Density,
  Me,
  LoginReply,
  Ok,
  User,
  UserList,
  ApiKey,
  KeyList,
  NewKeyReply,
  AuditPage,
  Policy,
  RecordingRules,
  StorageLocations: z.strictObject({
    locations: z.array(StorageLocation).describe('The storage locations this deployment declares, default first.'),
    default: z.string().nullable(),
  }),
  RedactionSettings,
  AgentSettings,
  AgentPolicyReply,
  LaunchReply,
  PieceAck,
  ActivityAck,
  SignedManifest,
  PublicKeyReply,
  Health,
  ServerRestartReply,
  ...PROCESSING_SCHEMAS,
} as const;

export type SchemaName = keyof typeof SCHEMAS;
