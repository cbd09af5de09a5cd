import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

const root = path.resolve(import.meta.dirname, '../..');

// A stand-in Cloudflare Access team: its signing key for the tests, its public keys at the certs URL.
const ACCESS_TEAM = 'witness-test.cloudflareaccess.com';
const access = generateKeyPairSync('rsa', { modulusLength: 2048 });
const accessPublicJwk = { ...access.publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };
const accessPrivateJwk = { ...access.privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256' };

// Tests run inside workerd with the real bindings from wrangler.jsonc (D1 with our migrations, R2, SessionDO).
export default defineConfig(async () => ({
  root,
  plugins: [
    cloudflareTest({
      wrangler: { configPath: path.join(root, 'wrangler.jsonc') },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(path.join(root, 'migrations')),
          WITNESS_TOKEN_SECRET: 'test-secret-that-is-at-least-32-characters-long',
          WITNESS_API_KEY: 'test-api-key',
          // Ed25519 PKCS#8 (base64) for evidence manifests; a test-only key.
          WITNESS_SIGNING_KEY: 'MC4CAQAwBQYDK2VwBCIEIASE7HQxwHwzDjj2A6NKg/DMYNtMg4yJLOa30KLWKzFo',
          WITNESS_ADMIN_PASSWORD: 'first-admin-password-123',
          WITNESS_ADMIN_PASSWORD_ONE_TIME: '0',
          SEAL_GRACE_SECONDS: '30',
          LAUNCHER_GRACE_SECONDS: '60',
          ACCESS_TEAM_DOMAIN: ACCESS_TEAM,
          ACCESS_AUD: 'witness-test-aud',
          TEST_ACCESS_PRIVATE_JWK: JSON.stringify(accessPrivateJwk),
        },
        // The only outbound request the Worker makes in tests: fetching the Access team's public keys.
        outboundService: (request: Request) =>
          request.url === `https://${ACCESS_TEAM}/cdn-cgi/access/certs`
            ? Response.json({ keys: [accessPublicJwk] })
            : new Response(`unexpected outbound request to ${request.url}`, { status: 599 }),
      },
    }),
  ],
  test: {
    // mediabunny maps its Node-only module away through package.json's "browser" field; pre-bundling it
    // applies that mapping (as wrangler's bundler does) instead of loading `node:fs/promises` piecemeal.
    deps: { optimizer: { ssr: { enabled: true, include: ['mediabunny'] } } },
    include: ['test/workers/**/*.test.ts'],
    setupFiles: ['test/workers/apply-migrations.ts'],
    globalSetup: ['test/workers/fixtures/global-setup.ts', 'test/workers/fixtures/processing-setup.ts'],
    testTimeout: 30_000,
  },
}));
