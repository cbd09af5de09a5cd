/**
 * The Witness Worker: the admin API (`/api/v1`), launcher ingest (`/ingest/v1`) and, through Workers assets,
 * the console. One Hono app, split by resource.
 */
import { Hono } from 'hono';
import type { RouterRoute } from 'hono/types';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { MAX_API_BODY_BYTES } from '../protocol/limits.ts';
import { type ApiEnv, authenticate } from './auth/principal.ts';
import { ApiError, onError, onNotFound } from './errors.ts';
import { serveOpenApi } from './openapi/route.ts';
import { activityRoutes } from './routes/activity.ts';
import { agentRoutes, agentSettingsRoutes } from './routes/agent.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { evidenceRoutes } from './routes/evidence.ts';
import { exportRoutes } from './routes/exports.ts';
import { ingest } from './routes/ingest.ts';
import { keyRoutes } from './routes/keys.ts';
import { launches } from './routes/launches.ts';
import { processingRoutes, sessionProcessingRoutes } from './routes/processing.ts';
import { processingPartRoutes } from './routes/processing-parts.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { retentionRoutes } from './routes/retention.ts';
import { serverRoutes } from './routes/server.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { settingsRoutes } from './routes/settings.ts';
import { userRoutes } from './routes/users.ts';
import { sweepRetention } from './retention/sweep.ts';

export { SessionDO } from '../durable/session-do.ts';

const api = new Hono<ApiEnv>()
  .use(
    // JSON bodies of the API are small (protocol/limits.ts); media goes through ingest, which checks its own.
    bodyLimit({
      maxSize: MAX_API_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, 'body_too_large', `Request bodies may be at most ${MAX_API_BODY_BYTES} bytes.`);
      },
    }),
  )
  // Sign-in must be reachable without credentials; everything after `authenticate` needs them.
  .route('/auth', authRoutes)
  .route('/server', serverRoutes) // `npm start` with its restart key, not an API credential
  .use(authenticate)
  .route('/launches', launches)
  .route('/agent', agentRoutes) // witness-agent asks whether and how its host's logins are recorded
  .route('/sessions', sessionRoutes)
  .route('/sessions', activityRoutes)
  .route('/sessions', recordingRoutes)
  .route('/sessions', exportRoutes) // activity.csv, activity.json, transcript.txt
  .route('/sessions', retentionRoutes) // /sessions/{id}/retention, /sessions/{id}/hold
  .route('/sessions', sessionProcessingRoutes)
  .route('/processing', processingRoutes)
  .route('/', evidenceRoutes) // /sessions/{id}/manifest, /sessions/{id}/pieces/{seq}.webm, /evidence/public-key
  .route('/settings', settingsRoutes)
  .route('/settings', agentSettingsRoutes) // /settings/agent: "record all sessions" per host pattern
  .route('/users', userRoutes)
  .route('/keys', keyRoutes)
  .route('/audit', auditRoutes);

export const app = new Hono<{ Bindings: Env }>()
  // API answers are JSON for scripts and the console: no framing, no sniffing, no caching by default.
  .use('/api/*', secureHeaders({ contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }))
  .get(
    '/api/v1/openapi.json',
    serveOpenApi((): readonly RouterRoute[] => app.routes),
  ) // before the API's `authenticate`: it is public
  // MP4 parts are larger than the API's JSON bodies: before the API's body limit, with their own (PART_BYTES).
  .route('/api/v1/processing/jobs', processingPartRoutes)
  .route('/api/v1', api)
  .route('/ingest/v1', ingest)
  .get('/api/health', (c) => c.json({ ok: true }));

app.onError(onError);
app.notFound(onNotFound);

export type AppType = typeof app;

export default {
  fetch: app.fetch,
  /** The cron trigger (wrangler.jsonc): the daily retention sweep, on the trigger's clock. */
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(sweepRetention(env, { now: controller.scheduledTime }));
  },
} satisfies ExportedHandler<Env>;
