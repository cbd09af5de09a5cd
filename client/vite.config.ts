import path from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The console is built into dist/client, which wrangler serves as Workers static assets.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact()],
  build: { outDir: path.resolve(import.meta.dirname, '../dist/client'), emptyOutDir: true },
});
