/**
 * The console parses with zod (protocol/ schemas: the evidence check, settings) under a Content-Security-Policy
 * without `unsafe-eval`: zod must not try `new Function` (its JIT), which the browser refuses and reports as a
 * CSP violation. Imported first by main.tsx, so this runs before any schema is built or used.
 */
import { config } from 'zod';

config({ jitless: true });
