/**
 * What the OpenAPI document says about each route beyond its request schemas (which come from the route's own
 * `validate` middleware): summary, who may call it, and its replies. One entry per method and path registered
 * on the app; test/workers/openapi.test.ts fails when a route has no entry here, or an entry has no route.
 */
import type { ZodType } from 'zod';
import { ActivityBatch } from '../../protocol/activity.ts';
import { PieceHeaders } from '../../protocol/ingest.ts';
import type { Permission } from '../../protocol/permissions.ts';
import type { SchemaName } from './schemas.ts';

/** `public`: no credentials; `api`: API key, login cookie or Cloudflare Access; `ingest`: a session's token. */
export type Access = 'public' | 'api' | 'ingest';

/** A success reply: a named JSON body, or other media (recordings, pieces) described in words. */
export interface Reply {
  description: string;
  json?: SchemaName;
  media?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface Operation {
  summary: string;
  description?: string;
  tag:
    | 'health'
    | 'auth'
    | 'launches'
    | 'sessions'
    | 'activity'
    | 'evidence'
    | 'settings'
    | 'processing'
    | 'users'
    | 'keys'
    | 'audit'
    | 'ingest';
  access: Access;
  /** The permission the route needs; a list means any one of them. */
  permission?: Permission | Permission[];
  /** Success replies by status. */
  replies: Record<number, Reply>;
  /** Errors this route answers besides the ones every route of its kind may (400, 401, 403, 429, 500). */
  errors?: Record<number, string>;
  /** Request parts the route checks by hand rather than with `validate` (raw bodies, piece headers). */
  body?: { mediaTypes: string[]; description: string; schema?: ZodType };
  headers?: ZodType;
}

const RECORDING_REPLY = (mediaType: string, what: string): Record<number, Reply> => ({
  200: { description: `The whole ${what}.`, media: { [mediaType]: what } },
  206: { description: 'The requested byte range (HTTP Range).', media: { [mediaType]: `part of the ${what}` } },
});

const RECORDING_ERRORS = {
  404: 'No such session, the session records another format, or the file is missing from storage.',
  409: 'The recording is not ready (still recording, finalizing, empty or failed).',
  410: 'Retention deleted the recording (`media_deleted`); the session and its manifest are kept.',
  416: 'The range is outside the file.',
};

const WEBSOCKET_REPLY: Record<number, Reply> = { 101: { description: 'Switching Protocols: the WebSocket opens.' } };

/** Keyed `METHOD /path/{param}`, in the order the console's reference lists them. */
export const OPERATIONS: Record<string, Operation> = {
  'GET /api/health': {
    summary: 'Liveness check',
    tag: 'health',
    access: 'public',
    replies: { 200: { description: 'The Worker answers.', json: 'Health' } },
  },
  'GET /api/v1/openapi.json': {
    summary: 'This document',
    tag: 'health',
    access: 'public',
    replies: { 200: { description: 'The OpenAPI 3.1 document of the API.', media: { 'application/json': 'OpenAPI' } } },
  },

  'POST /api/v1/server/restarting': {
    summary: 'The server is about to restart: close live viewers with 1012',
    description:
      '`npm start` calls this on Ctrl-C or SIGTERM before it stops the server, so the console says the server ' +
      'is restarting and reconnects (docs/ingest-protocol.md §5). Authenticated with the restart key, ' +
      '`Authorization: Bearer <HMAC-SHA256(WITNESS_TOKEN_SECRET, "witness-server-restart-v1"), hex>`, not an API key.',
    tag: 'health',
    access: 'public',
    replies: {
      200: { description: 'The viewers of every pending or active session were closed.', json: 'ServerRestartReply' },
    },
    errors: { 401: 'No bearer credential (`unauthenticated`), or not the restart key (`invalid_restart_key`).' },
  },

  'POST /api/v1/auth/login': {
    summary: 'Sign in with a password',
    description: 'Sets the login cookie and returns the CSRF token that cookie-authenticated writes must send.',
    tag: 'auth',
    access: 'public',
    replies: { 200: { description: 'Signed in.', json: 'LoginReply', headers: { 'set-cookie': 'witness_session' } } },
    errors: {
      401: 'Wrong username or password (the same answer for an unknown username).',
      429:
        'Too many attempts from this address (`too_many_attempts`), or failed sign-ins make attempts at this ' +
        'account from here wait (`sign_in_delayed`, with `Retry-After` in seconds); docs/access-control.md.',
    },
  },
  'GET /api/v1/auth/me': {
    summary: 'Who is calling, and what they may do',
    tag: 'auth',
    access: 'api',
    replies: { 200: { description: 'The caller.', json: 'Me' } },
  },
  'POST /api/v1/auth/logout': {
    summary: 'Sign out (ends this login)',
    tag: 'auth',
    access: 'api',
    replies: { 200: { description: 'Signed out; the cookie is cleared.', json: 'Ok' } },
  },
  'POST /api/v1/auth/password': {
    summary: 'Change your password',
    description: 'Ends every other login of the user.',
    tag: 'auth',
    access: 'api',
    replies: { 200: { description: 'Changed.', json: 'Ok' } },
    errors: { 401: 'The current password is wrong.' },
  },

  'POST /api/v1/launches': {
    summary: 'Launch a recorded session',
    description: 'Returns the session id and the ingest token a launcher records with (docs/ingest-protocol.md).',
    tag: 'launches',
    access: 'api',
    permission: 'sessions:launch',
    replies: { 201: { description: 'The session is waiting for its launcher.', json: 'LaunchReply' } },
  },

  'GET /api/v1/agent/policy': {
    summary: 'Whether and how the agent key’s host records its logins (witness-agent asks at each login)',
    description:
      'For an agent key only (403 `not_an_agent_key` otherwise): `record` from the first rule of ' +
      '`/settings/agent` matching the key’s host (no rule: recorded), and the settings a launch would snapshot.',
    tag: 'launches',
    access: 'api',
    permission: 'sessions:launch',
    replies: { 200: { description: 'The host’s policy.', json: 'AgentPolicyReply' } },
  },

  'GET /api/v1/sessions': {
    summary: 'List or search sessions',
    description:
      'Newest first. With `q`, sessions whose activity contains the text (newest first by their first event), each ' +
      'with its newest matches; `in` narrows where it looks (comma-separated: keystrokes, ssh, apps, processes, ' +
      'windows); words with `- . _ / \\` inside match as spelled (docs/activity.md). ' +
      'Either way, the next page is `cursor` = the previous `nextCursor` (null on the last page).',
    tag: 'sessions',
    access: 'api',
    permission: 'sessions:monitor',
    replies: { 200: { description: 'One page of sessions.', json: 'SessionPage' } },
  },
  'GET /api/v1/sessions/{id}': {
    summary: 'One session',
    tag: 'sessions',
    access: 'api',
    permission: ['sessions:monitor', 'sessions:watch-live', 'recordings:view'],
    replies: { 200: { description: 'The session, with live state while it runs.', json: 'Session' } },
    errors: { 404: 'No such session.' },
  },
  'POST /api/v1/sessions/{id}/terminate': {
    summary: 'Message the user, or terminate the session',
    tag: 'sessions',
    access: 'api',
    permission: 'sessions:terminate',
    replies: {
      200: { description: 'Sent to the launcher (or recorded if none is connected).', json: 'TerminateReply' },
    },
    errors: { 404: 'No such session.', 409: 'The session has already ended.' },
  },
  'GET /api/v1/sessions/{id}/live': {
    summary: 'Watch live (WebSocket)',
    description: 'Send `Upgrade: websocket`. Frames: the session’s media as it arrives, then control messages.',
    tag: 'sessions',
    access: 'api',
    permission: 'sessions:watch-live',
    replies: WEBSOCKET_REPLY,
    errors: {
      404: 'No such session.',
      426: 'Not a WebSocket request.',
      429: 'This principal opened the session’s live socket too often this minute.',
    },
  },
  'GET /api/v1/sessions/{id}/recording.webm': {
    summary: 'The sealed recording of a desktop session',
    description: 'Seekable WebM (Duration and Cues). Supports HTTP Range; `download=1` asks to save it.',
    tag: 'sessions',
    access: 'api',
    permission: 'recordings:view',
    replies: RECORDING_REPLY('video/webm', 'WebM recording'),
    errors: RECORDING_ERRORS,
  },
  'HEAD /api/v1/sessions/{id}/recording.webm': {
    summary: 'Size and type of the WebM recording',
    tag: 'sessions',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Headers only (content-length, etag, accept-ranges).' } },
    errors: RECORDING_ERRORS,
  },
  'GET /api/v1/sessions/{id}/recording.cast': {
    summary: 'The sealed recording of an SSH session',
    description: 'An asciicast v2 terminal log (plays in asciinema). Supports HTTP Range; `download=1` to save it.',
    tag: 'sessions',
    access: 'api',
    permission: 'recordings:view',
    replies: RECORDING_REPLY('application/x-asciicast', 'asciicast recording'),
    errors: RECORDING_ERRORS,
  },
  'HEAD /api/v1/sessions/{id}/recording.cast': {
    summary: 'Size and type of the asciicast recording',
    tag: 'sessions',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Headers only (content-length, etag, accept-ranges).' } },
    errors: RECORDING_ERRORS,
  },

  // MP4 processing (docs/processing.md)
  'POST /api/v1/sessions/{id}/processing': {
    summary: "Ask for a recording's MP4",
    description:
      'Queues the conversion of a sealed desktop recording to the codec the settings choose (H.264/MP4 by default) ' +
      'for a witness-processor. `202` when it was queued now; `200` with the existing job when one exists.',
    tag: 'processing',
    access: 'api',
    permission: 'recordings:view',
    replies: {
      202: { description: 'Queued.', json: 'ProcessingReply' },
      200: { description: 'Already asked for: its status.', json: 'ProcessingReply' },
    },
    errors: {
      404: 'No such session.',
      409: 'Still live (`session_live`), not sealed (`not_sealed`), archived, failed, recording off, or empty.',
      410: 'The media was deleted by retention (`media_deleted`).',
      422: 'An SSH session: a terminal log, no video (`not_a_video`).',
    },
  },
  'GET /api/v1/sessions/{id}/processing': {
    summary: "A recording's MP4: status, and once ready its signed processing record",
    tag: 'processing',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Status (null when none was asked for).', json: 'ProcessingStatusReply' } },
    errors: { 404: 'No such session.' },
  },
  'POST /api/v1/sessions/{id}/processing/retry': {
    summary: "Retry a recording's failed MP4",
    tag: 'processing',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Queued again, with its attempts starting over.', json: 'ProcessingReply' } },
    errors: { 404: 'No such session, or no MP4 asked for (`no_processing`).', 409: 'Not failed (`not_failed`).' },
  },
  'GET /api/v1/sessions/{id}/recording.mp4': {
    summary: 'The MP4 made from a recording',
    description:
      'Derived from the sealed WebM (the evidence); its SHA-256 is signed in the processing record. HTTP Range; ' +
      '`download=1` to save it. Audited as a read of the recording.',
    tag: 'processing',
    access: 'api',
    permission: 'recordings:view',
    replies: RECORDING_REPLY('video/mp4', 'MP4'),
    errors: {
      404: 'No such session, or the file is missing.',
      409: 'No MP4 ready (`mp4_not_ready`).',
      416: 'Bad range.',
    },
  },
  'HEAD /api/v1/sessions/{id}/recording.mp4': {
    summary: 'Size and type of the MP4',
    tag: 'processing',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Headers only (content-length, etag, accept-ranges).' } },
    errors: { 404: 'No such session, or the file is missing.', 409: 'No MP4 ready (`mp4_not_ready`).' },
  },
  'POST /api/v1/processing/retry-failed': {
    summary: 'Retry every failed MP4',
    tag: 'processing',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The sessions queued again (each audited).', json: 'RetriedFailed' } },
  },
  'POST /api/v1/processing/lease': {
    summary: '(witness-processor) Lease the next MP4 job',
    description:
      'The oldest due job in one of `encoders`, leased for `leaseSeconds` (renewed by each progress report). ' +
      'A lease that runs out returns the job to the queue; two processors never hold one job.',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: {
      200: { description: 'A job, with where to read its source.', json: 'LeasedJob' },
      204: { description: 'No job is due.' },
    },
  },
  'GET /api/v1/processing/jobs/{id}/source.webm': {
    summary: "(witness-processor) Read a leased job's source recording",
    description: 'HTTP Range, with the lease in `x-witness-lease`. Audited like every read of recorded data.',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: RECORDING_REPLY('video/webm', 'WebM recording'),
    errors: { 404: 'No such job.', 409: 'The lease is not held (`lease_not_held`).', 416: 'Bad range.' },
  },
  'HEAD /api/v1/processing/jobs/{id}/source.webm': {
    summary: "(witness-processor) Size of a leased job's source recording",
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: { 200: { description: 'Headers only.' } },
    errors: { 404: 'No such job.', 409: 'The lease is not held (`lease_not_held`).' },
  },
  'POST /api/v1/processing/jobs/{id}/progress': {
    summary: '(witness-processor) Report progress; renews the lease',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: { 200: { description: 'The lease now runs until this.', json: 'LeaseRenewed' } },
    errors: { 404: 'No such job.', 409: 'The lease is not held, or is for another job (`lease_not_held`).' },
  },
  'POST /api/v1/processing/jobs/{id}/failure': {
    summary: '(witness-processor) Report a failed attempt with its cause',
    description:
      'Retryable: queued again after a backoff (15 s, doubling, at most 10 min) until the fifth attempt; ' +
      'otherwise failed, with the cause (exit code, stderr tail) shown until a Retry.',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: { 200: { description: 'Where the job is now.', json: 'ProcessingReply' } },
    errors: { 404: 'No such job.', 409: 'The lease is not held (`lease_not_held`).' },
  },
  'POST /api/v1/processing/jobs/{id}/upload': {
    summary: "(witness-processor) Begin uploading a leased job's MP4",
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: { 201: { description: 'Upload parts of this size (the last may be smaller).', json: 'UploadBegun' } },
    errors: { 404: 'No such job.', 409: 'The lease is not held (`lease_not_held`).' },
  },
  'PUT /api/v1/processing/jobs/{id}/parts/{part}': {
    summary: '(witness-processor) Upload one part of the MP4',
    description: 'Parts 1…n of exactly `partBytes` but the last, with the lease in `x-witness-lease`.',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    body: { mediaTypes: ['application/octet-stream'], description: 'The part’s bytes.' },
    replies: { 200: { description: 'Stored.', json: 'PartStored' } },
    errors: {
      404: 'No such job.',
      409: 'The lease is not held (`lease_not_held`), or no upload begun (`no_upload`).',
      413: 'Larger than `partBytes` (`part_too_large`).',
    },
  },
  'POST /api/v1/processing/jobs/{id}/complete': {
    summary: '(witness-processor) Complete the MP4: checked, hashed, signed, served',
    description:
      'The Worker completes the upload, checks with mediabunny that it is an MP4 with one video track in the ' +
      "job's codec lasting within 1 s of the source, hashes it as stored and signs the processing record. " +
      'A refused upload is deleted and the job is left as it was.',
    tag: 'processing',
    access: 'api',
    permission: 'processing:run',
    replies: { 200: { description: 'Ready.', json: 'ProcessingCompleted' } },
    errors: {
      404: 'No such job.',
      409: 'The lease is not held (`lease_not_held`), or no upload begun (`no_upload`).',
      422: 'Not the parts announced (`parts_invalid`), not an MP4 (`not_mp4`), wrong tracks, wrong duration.',
      503: 'No signing key (`signing_key_missing`).',
    },
  },
  'GET /api/v1/settings/recording/processing': {
    summary: 'MP4 processing settings',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'On demand or automatic, and the codec.', json: 'ProcessingSettings' } },
  },
  'PUT /api/v1/settings/recording/processing': {
    summary: 'Change the MP4 processing settings',
    description: '`onDemand: false` converts every sealed desktop recording; `codec` is `h264` (default) or `hevc`.',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new settings.', json: 'ProcessingSettings' } },
  },

  'GET /api/v1/sessions/{id}/retention': {
    summary: 'What retention did and will do to a session, and its legal hold',
    tag: 'sessions',
    access: 'api',
    permission: ['sessions:monitor', 'recordings:view', 'recording:administer'],
    replies: { 200: { description: 'Its retention state.', json: 'SessionRetention' } },
    errors: { 404: 'No such session.' },
  },
  'PUT /api/v1/sessions/{id}/hold': {
    summary: 'Place a legal hold (retention never deletes the session until it is released)',
    description: 'Needs a `reason`; audited as `session.held`.',
    tag: 'sessions',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The hold.', json: 'HoldReply' } },
    errors: {
      404: 'No such session.',
      409: 'Already held (`already_held`), or its media is deleted (`media_deleted`).',
    },
  },
  'DELETE /api/v1/sessions/{id}/hold': {
    summary: 'Release a legal hold',
    description: 'Needs a `reason`; audited as `session.released`.',
    tag: 'sessions',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'No hold any more.', json: 'HoldReply' } },
    errors: { 404: 'No such session.', 409: 'The session is not held (`not_held`).' },
  },
  'GET /api/v1/sessions/{id}/activity': {
    summary: 'A session’s activity events',
    description:
      'Events on the session clock (`offsetMs`), oldest first; `q` searches their text, `type`, `from` and `to` ' +
      '(ms) narrow them. Pages with `cursor` = the previous `nextCursor`.',
    tag: 'activity',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'One page of events.', json: 'ActivityPage' } },
    errors: { 404: 'No such session.', 410: 'Retention deleted the activity (`media_deleted`).' },
  },
  'GET /api/v1/sessions/{id}/activity.csv': {
    summary: 'A session’s activity as CSV, for an auditor',
    description:
      'Every event, oldest first: `offsetMs` on the video’s clock, `time` as the activity grid shows it, ' +
      "`wallClock` (ISO 8601), then the event’s fields. Cells starting with = + - @ are prefixed with `'` " +
      '(no formula runs in a spreadsheet). Streamed; each download is an audit row (`activity.exported`).',
    tag: 'activity',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'The CSV file (a header row, one row per event).', media: { 'text/csv': 'CSV' } } },
    errors: { 404: 'No such session.', 410: 'Retention deleted the activity (`media_deleted`).' },
  },
  'GET /api/v1/sessions/{id}/activity.json': {
    summary: 'A session’s activity as one JSON file, for an auditor',
    description:
      '`{session, events}`: every event as `GET …/activity` shows it, with `time` and `wallClock`. Streamed; ' +
      'each download is an audit row (`activity.exported`).',
    tag: 'activity',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'The JSON file.', media: { 'application/json': 'activity export' } } },
    errors: { 404: 'No such session.', 410: 'Retention deleted the activity (`media_deleted`).' },
  },
  'GET /api/v1/sessions/{id}/transcript.txt': {
    summary: 'A terminal session as plain text, for an auditor',
    description:
      'What the terminal printed, escape sequences removed, and each line the user entered marked ' +
      '`>>> [h:mm:ss.mmm] input: …`. From the sealed `.cast`; each download is an audit row (`activity.exported`).',
    tag: 'sessions',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'The transcript.', media: { 'text/plain': 'transcript' } } },
    errors: {
      404: 'No such session, a desktop session (no transcript), or the recording is missing from storage.',
      409: 'The recording is not sealed yet.',
      410: 'Retention deleted the recording (`media_deleted`).',
    },
  },
  'GET /api/v1/sessions/{id}/activity/density': {
    summary: 'The activity map: screen change, keystrokes and process events per time bucket',
    tag: 'activity',
    access: 'api',
    permission: 'recordings:view',
    replies: { 200: { description: 'Buckets over the whole session.', json: 'Density' } },
    errors: { 404: 'No such session.', 410: 'Retention deleted the activity (`media_deleted`).' },
  },

  'GET /api/v1/evidence/public-key': {
    summary: 'The key evidence manifests are signed with',
    tag: 'evidence',
    access: 'api',
    replies: { 200: { description: 'Ed25519 public key (raw base64 and PEM).', json: 'PublicKeyReply' } },
    errors: { 503: 'No (valid) signing key is configured.' },
  },
  'GET /api/v1/sessions/{id}/manifest': {
    summary: 'A sealed session’s signed evidence manifest',
    description: 'Verify it offline with `witness verify` (docs/evidence.md).',
    tag: 'evidence',
    access: 'api',
    permission: 'recordings:view',
    replies: {
      200: {
        description: 'The signed manifest; kept when retention deletes the media.',
        json: 'SignedManifest',
        headers: { 'x-witness-media': '`deleted <ISO time>` when retention deleted the media it lists.' },
      },
    },
    errors: {
      404: 'No such session.',
      409: 'The session is not sealed yet.',
      503: 'The manifest could not be written.',
    },
  },
  'GET /api/v1/sessions/{id}/pieces/{file}': {
    summary: 'One stored piece, exactly as the launcher sent it',
    description: 'Name it `<seq>.webm`, or `<seq>.cast` for an SSH session.',
    tag: 'evidence',
    access: 'api',
    permission: 'recordings:view',
    replies: {
      200: {
        description: 'The piece’s bytes.',
        media: { 'video/webm': 'a WebM piece', 'application/x-asciicast': 'an asciicast piece' },
      },
    },
    errors: { 404: 'No such session or piece.', 410: 'Retention deleted the media (`media_deleted`).' },
  },

  'GET /api/v1/settings/recording': {
    summary: 'The recording policy new sessions get',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The current policy.', json: 'Policy' } },
  },
  'PUT /api/v1/settings/recording': {
    summary: 'Change the recording policy (fields not sent stay as they are)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new policy.', json: 'Policy' } },
  },
  'GET /api/v1/settings/recording/storage': {
    summary: 'The storage locations recordings may be saved to (wrangler.jsonc RECORDING_STORAGE)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'Each R2 binding, its archive binding and label.', json: 'StorageLocations' } },
  },
  'GET /api/v1/settings/recording/rules': {
    summary: 'The default storage and the rules by target (recording level, storage)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The default storage and the rules, first match wins.', json: 'RecordingRules' } },
  },
  'PUT /api/v1/settings/recording/rules': {
    summary: 'Replace the default storage and the rules by target (applies to new sessions)',
    description:
      'Each rule `{targets, recordingLevel?, storage?}` sets at least one; `targets` is a pattern (`*`, `?`); ' +
      'the first rule matching a launch’s target decides, what it leaves out comes from the defaults.',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new rules.', json: 'RecordingRules' } },
    errors: { 400: 'A bad pattern or rule (`invalid_json`), a storage this deployment lacks (`unknown_storage`).' },
  },
  'GET /api/v1/settings/recording/retention': {
    summary: 'When recordings are archived and deleted (docs/retention.md)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The retention rules.', json: 'RetentionSettings' } },
  },
  'PUT /api/v1/settings/recording/retention': {
    summary: 'Change the retention rules (fields not sent stay as they are)',
    description: 'Days are 1–36500; with both rules on, archive.afterDays must be less than delete.afterDays.',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new rules.', json: 'RetentionSettings' } },
    errors: { 400: 'Out of range, or archiving not before deletion (`retention_order`).' },
  },
  'GET /api/v1/settings/recording/retention/next-run': {
    summary: 'What the next retention sweep will do',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'Its time and the sessions it would act on.', json: 'RetentionPreview' } },
  },
  'GET /api/v1/settings/redaction': {
    summary: 'The administrator’s own secret patterns, applied with the built-in ones',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The patterns.', json: 'RedactionSettings' } },
  },
  'PUT /api/v1/settings/redaction': {
    summary: 'Replace the secret patterns (they apply to events stored from now on)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new patterns.', json: 'RedactionSettings' } },
  },

  'GET /api/v1/settings/agent': {
    summary: 'Record all sessions: witness-agent’s rules per host pattern',
    description:
      'The first rule whose `hosts` pattern (`*`, `?`) matches a host decides; a host no rule matches is recorded.',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The rules.', json: 'AgentSettings' } },
  },
  'PUT /api/v1/settings/agent': {
    summary: 'Replace the agent’s rules (each host’s next login asks again)',
    tag: 'settings',
    access: 'api',
    permission: 'recording:administer',
    replies: { 200: { description: 'The new rules.', json: 'AgentSettings' } },
  },

  'GET /api/v1/users': {
    summary: 'Console users',
    tag: 'users',
    access: 'api',
    permission: 'users:manage',
    replies: { 200: { description: 'Every user, by username.', json: 'UserList' } },
  },
  'POST /api/v1/users': {
    summary: 'Create a console user',
    description: 'The user must change the password at first sign-in.',
    tag: 'users',
    access: 'api',
    permission: 'users:manage',
    replies: { 201: { description: 'Created.', json: 'User' } },
    errors: { 409: 'The username is taken.' },
  },
  'PATCH /api/v1/users/{id}': {
    summary: 'Change, disable or reset the password of a user',
    tag: 'users',
    access: 'api',
    permission: 'users:manage',
    replies: { 200: { description: 'The user as changed.', json: 'User' } },
    errors: { 404: 'No such user.', 409: 'You cannot lock yourself out.' },
  },
  'POST /api/v1/users/{id}/unlock': {
    summary: 'Clear the failed sign-ins of a user',
    description: 'Attempts at the account from any address stop waiting (`user.unlocked` in the audit log).',
    tag: 'users',
    access: 'api',
    permission: 'users:manage',
    replies: { 200: { description: 'The user, no longer throttled.', json: 'User' } },
    errors: { 404: 'No such user.' },
  },

  'GET /api/v1/keys': {
    summary: 'API keys',
    tag: 'keys',
    access: 'api',
    permission: 'users:manage',
    replies: { 200: { description: 'Every key, newest first (never the secret).', json: 'KeyList' } },
  },
  'POST /api/v1/keys': {
    summary: 'Create an API key',
    tag: 'keys',
    access: 'api',
    permission: 'users:manage',
    replies: { 201: { description: 'Created; the secret is in this reply only.', json: 'NewKeyReply' } },
  },
  'DELETE /api/v1/keys/{id}': {
    summary: 'Revoke an API key',
    tag: 'keys',
    access: 'api',
    permission: 'users:manage',
    replies: { 200: { description: 'The key as revoked.', json: 'ApiKey' } },
    errors: { 404: 'No such key.' },
  },

  'GET /api/v1/audit/reads': {
    summary: 'Reads of recorded data, an hour at a time per principal and session, with their totals',
    tag: 'audit',
    access: 'api',
    permission: 'audit:view',
    replies: { 200: { description: 'The newest windows first.', json: 'ReadWindowList' } },
  },
  'GET /api/v1/audit': {
    summary: 'Search the audit log',
    description: 'Newest first; pages with `cursor` = the previous `nextCursor`.',
    tag: 'audit',
    access: 'api',
    permission: 'audit:view',
    replies: { 200: { description: 'One page of entries.', json: 'AuditPage' } },
  },
  'GET /api/v1/audit/export': {
    summary: 'Export the audit log (CSV or JSON), with the same filters as the search',
    description:
      '`format=csv|json`; the filters of `GET /api/v1/audit`. Newest first, each row with its sentence; at most ' +
      '100,000 rows a file, and when more match `X-Witness-Next-Cursor` is the `cursor` of the next file. CSV cells ' +
      "starting with = + - @ are prefixed with `'`. The export is itself an audit row (`audit.exported`).",
    tag: 'audit',
    access: 'api',
    permission: 'audit:view',
    replies: {
      200: {
        description: 'The file.',
        media: { 'text/csv': 'CSV', 'application/json': 'audit export' },
      },
    },
  },

  'GET /ingest/v1/sessions/{id}/control': {
    summary: 'The launcher’s control socket (WebSocket)',
    description: 'Messages are specified in docs/ingest-protocol.md.',
    tag: 'ingest',
    access: 'ingest',
    replies: WEBSOCKET_REPLY,
    errors: { 426: 'Not a WebSocket request.', 429: 'The control socket was opened too often this minute.' },
  },
  'PUT /ingest/v1/sessions/{id}/pieces/{seq}': {
    summary: 'Upload one recording piece',
    description:
      'Pieces are stored exactly as sent and never overwritten: a retry with the same bytes is acknowledged ' +
      'again (200), other bytes are a conflict (409). Content-Length is required.',
    tag: 'ingest',
    access: 'ingest',
    body: {
      mediaTypes: ['video/webm', 'application/x-asciicast'],
      description: 'One WebM Cluster (seq 0: the init segment), or for SSH sessions a piece of the asciicast log.',
    },
    headers: PieceHeaders,
    replies: {
      200: { description: 'Already stored with these bytes.', json: 'PieceAck' },
      201: { description: 'Stored.', json: 'PieceAck' },
    },
    errors: {
      409: 'The sequence number is stored with other bytes, or the session is sealed.',
      411: 'Content-Length is missing.',
      413: 'The piece is too large.',
      415: 'Wrong Content-Type for this session’s format.',
    },
  },
  'POST /ingest/v1/sessions/{id}/events/{batch}': {
    summary: 'Upload one batch of activity events',
    description: 'Each event is checked on its own; refused events are listed in the reply, the others stored.',
    tag: 'ingest',
    access: 'ingest',
    body: { mediaTypes: ['application/json'], description: 'Up to 500 events.', schema: ActivityBatch },
    replies: {
      200: { description: 'This batch was already stored with the same body.', json: 'ActivityAck' },
      201: { description: 'Stored.', json: 'ActivityAck' },
    },
    errors: { 404: 'No such session.', 409: 'The session is sealed.', 413: 'The batch is too large.' },
  },
};
