import { defineConfig } from 'drizzle-kit';

// drizzle-kit writes plain SQL migrations into wrangler's migrations_dir; wrangler applies them.
export default defineConfig({
  dialect: 'sqlite',
  schema: './schema/index.ts',
  out: './migrations',
});
