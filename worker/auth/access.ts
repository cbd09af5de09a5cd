/**
 * Cloudflare Access: when Witness sits behind Access, the edge adds a signed JWT (`Cf-Access-Jwt-Assertion`)
 * to each request. If ACCESS_TEAM_DOMAIN and ACCESS_AUD are set, a valid JWT for an email that matches a
 * Witness user signs that user in (their Witness permissions apply). The signature is checked against the
 * team's published keys, the audience against ACCESS_AUD, the issuer against the team domain.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';

export const ACCESS_JWT_HEADER = 'cf-access-jwt-assertion';

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

export interface AccessConfig {
  teamDomain: string;
  audience: string;
}

/** Access settings, or null when Access is not in use. */
export function accessConfig(env: Env): AccessConfig | null {
  const teamDomain = env.ACCESS_TEAM_DOMAIN?.replace(/^https?:\/\//, '').replace(/\/$/, '');
  if (!teamDomain || !env.ACCESS_AUD) return null;
  return { teamDomain, audience: env.ACCESS_AUD };
}

/** The verified email in an Access JWT, or null if the token is not valid for this application. */
export async function verifyAccessJwt(config: AccessConfig, token: string): Promise<string | null> {
  const certs = `https://${config.teamDomain}/cdn-cgi/access/certs`;
  let keys = keySets.get(certs);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(certs));
    keySets.set(certs, keys);
  }
  try {
    const { payload } = await jwtVerify(token, keys, {
      audience: config.audience,
      issuer: `https://${config.teamDomain}`,
      algorithms: ['RS256'],
    });
    return typeof payload.email === 'string' ? payload.email.toLowerCase() : null;
  } catch {
    return null;
  }
}
