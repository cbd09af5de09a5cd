import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Plain Node tests of the launcher: splitter, helpers, and the real CLI against a fake ingest server.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
