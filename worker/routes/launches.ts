/** `POST /api/v1/launches`: a vault, an admin or an agent asks for a recorded session. */
import { Hono } from 'hono';
import { z } from 'zod';
import { identifier } from '../../protocol/identifier.ts';
import type { LaunchReply as Reply } from '../../protocol/ingest.ts';
import {
  AgentLogin,
  comparePolicy,
  defaultFormat,
  Policy,
  type PolicySource,
  Protocol,
  RecordingFormat,
} from '../../protocol/session.ts';
import { audit } from '../audit.ts';
import { issueIngestToken } from '../../server/auth/ingest-token.ts';
import { type ApiEnv, requirePermission } from '../auth/principal.ts';
import { database } from '../../server/db/index.ts';
import { insertSession } from '../../server/db/session-directory.ts';
import { ApiError } from '../errors.ts';
import { resolveTarget } from '../../protocol/recording-rules.ts';
import { recordingPolicy, recordingRules } from '../settings.ts';
import { sessionObject } from '../stubs.ts';
import { validate } from '../validate.ts';

const LaunchBody = z.strictObject({
  // Printable names only: they reach the console, auditors' terminals and the signed manifest.
  user: identifier(200),
  target: identifier(500),
  protocol: Protocol.default('desktop'),
  /** `webm` video (the launcher) or an `asciicast` terminal log (the SSH proxy); by default from `protocol`. */
  format: RecordingFormat.optional(),
  /**
   * Changes to the current settings for this one session: stricter (keystrokes on, a shorter timeout for a
   * contractor) from any launcher; weaker only with `policy:override` (a 403 `policy_weaker_than_settings` else).
   */
  policy: Policy.partial().optional(),
  /** From witness-agent (an `agent` key) only: the login it found on its host, its tty and remote address. */
  login: AgentLogin.optional(),
});

export const launches = new Hono<ApiEnv>().post(
  '/',
  requirePermission('sessions:launch'),
  validate('json', LaunchBody),
  async (c) => {
    const body = c.req.valid('json');
    const principal = c.get('principal');
    if (principal.host !== null && body.target !== principal.host) {
      throw new ApiError(403, 'wrong_host', `This agent key records sessions on ${principal.host} only.`);
    }
    // An agent key is bound to its host; only it records logins nobody launched.
    const agent = principal.host !== null;
    if (body.login && !agent) {
      throw new ApiError(400, 'login_needs_agent_key', 'Only an agent key (bound to its host) reports a login.');
    }
    const db = database(c.env.DB);
    const sessionId = crypto.randomUUID();
    const now = Date.now();
    // The settings for this target: its rule (first match) sets the recording level and where it is saved.
    const rules = await recordingRules(db);
    const defaults = await recordingPolicy(db);
    const resolved = resolveTarget(rules, defaults, body.target);
    const settings: Policy = { ...defaults, recordingLevel: resolved.recordingLevel };
    const { weaker, stricter } = comparePolicy(settings, body.policy ?? {});
    if (weaker.length > 0 && !principal.permissions.has('policy:override')) {
      throw new ApiError(
        403,
        'policy_weaker_than_settings',
        `A launch may make the recording settings stricter, not weaker (${weaker.join(', ')}); ` +
          'weakening them takes a key with the policy:override permission.',
      );
    }
    const policy: Policy = { ...settings, ...body.policy };
    const policySource: PolicySource = weaker.length > 0 ? 'override' : stricter.length > 0 ? 'stricter' : 'settings';
    const policyChanges = [...weaker, ...stricter];
    const format = body.format ?? defaultFormat(body.protocol);
    const issued = await issueIngestToken(
      c.env.WITNESS_TOKEN_SECRET,
      sessionId,
      Number(c.env.INGEST_TOKEN_TTL_SECONDS),
      now,
    );
    await insertSession(db, {
      id: sessionId,
      user: body.user,
      target: body.target,
      protocol: body.protocol,
      format,
      status: 'pending',
      createdAt: now,
      policy,
      policySource,
      policyChanges,
      launchedBy: principal.id,
      recordingStatus: policy.recordingEnabled ? 'recording' : 'disabled',
      recordingLevel: policy.recordingLevel,
      storage: resolved.storage,
      origin: agent ? 'agent' : 'launched',
      agentLogin: agent ? (body.login ?? null) : null,
    });
    await sessionObject(c.env, sessionId).init({
      sessionId,
      user: body.user,
      target: body.target,
      protocol: body.protocol,
      format,
      policy,
      storage: resolved.storage,
      createdAt: now,
      launchExpiresAt: issued.expiresAt.getTime(),
    });
    await audit(c, {
      action: 'session.launched',
      target: { type: 'session', id: sessionId },
      details: {
        user: body.user,
        target: body.target,
        protocol: body.protocol,
        format,
        ...(agent && { origin: 'agent', login: body.login ?? null }),
        policy,
        storage: resolved.storage,
        ...(resolved.rule !== null && { rule: resolved.rule }),
        policySource,
        // What the launch changed, and what the settings said: an override names what it turned off.
        ...(policyChanges.length > 0 && {
          policyChanges,
          settings: Object.fromEntries(policyChanges.map((field) => [field, settings[field]])),
        }),
      },
    });
    const reply: Reply = { sessionId, token: issued.token, expiresAt: issued.expiresAt.toISOString(), format };
    return c.json(reply, 201);
  },
);
