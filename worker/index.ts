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
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { evidenceRoutes } from './routes/evidence.ts';
import { ingest } from './routes/ingest.ts';
import { keyRoutes } from './routes/keys.ts';
import { launches } from './routes/launches.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { serverRoutes } from './routes/server.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { settingsRoutes } from './routes/settings.ts';
import { userRoutes } from './routes/users.ts';

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
  .route('/sessions', sessionRoutes)
  .route('/sessions', activityRoutes)
  .route('/sessions', recordingRoutes)
  .route('/', evidenceRoutes) // /sessions/{id}/manifest, /sessions/{id}/pieces/{seq}.webm, /evidence/public-key
  .route('/settings', settingsRoutes)
  .route('/users', userRoutes)
  .route('/keys', keyRoutes)
  .route('/audit', auditRoutes);

const app = new Hono<{ Bindings: Env }>()
  // API answers are JSON for scripts and the console: no framing, no sniffing, no caching by default.
  .use('/api/*', secureHeaders({ contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }))
  .get(
    '/api/v1/openapi.json',
    serveOpenApi((): readonly RouterRoute[] => app.routes),
  ) // before the API's `authenticate`: it is public
  .route('/api/v1', api)
  .route('/ingest/v1', ingest)
  .get('/api/health', (c) => c.json({ ok: true }));

app.onError(onError);
app.notFound(onNotFound);

export type AppType = typeof app;
export default app;
