import path from 'node:path';
import { defineConfig } from 'vitest/config';

const root = path.resolve(import.meta.dirname, '../..');

// End-to-end: the server `npm start` runs, the real launcher with real ffmpeg on a real X display (Xvfb),
// and Debian's Chromium. One file at a time: the machine has two cores and the launcher encodes in real time.
export default defineConfig({
  root,
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
