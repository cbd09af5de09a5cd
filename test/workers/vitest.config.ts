import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

const root = path.resolve(import.meta.dirname, '../..');

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
          WITNESS_ADMIN_PASSWORD: 'first-admin-password-123',
          WITNESS_ADMIN_PASSWORD_ONE_TIME: '0',
          SEAL_GRACE_SECONDS: '30',
          LAUNCHER_GRACE_SECONDS: '60',
        },
      },
    }),
  ],
  test: {
    // mediabunny maps its Node-only module away through package.json's "browser" field; pre-bundling it
    // applies that mapping (as wrangler's bundler does) instead of loading `node:fs/promises` piecemeal.
    deps: { optimizer: { ssr: { enabled: true, include: ['mediabunny'] } } },
    include: ['test/workers/**/*.test.ts'],
    setupFiles: ['test/workers/apply-migrations.ts'],
    globalSetup: ['test/workers/fixtures/global-setup.ts'],
    testTimeout: 30_000,
  },
}));
