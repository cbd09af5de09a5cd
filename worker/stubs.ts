/** Typed handles on Durable Objects; the one place that maps a session id to its object. */
export function sessionObject(env: Env, sessionId: string) {
  return env.SESSIONS.getByName(sessionId);
}
