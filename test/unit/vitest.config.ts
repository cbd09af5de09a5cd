import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Plain Node tests: the launcher (splitter, helpers, the real CLI against a fake ingest server) and the
// server's pure modules (deadlines, live cursor, byte ranges).
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
