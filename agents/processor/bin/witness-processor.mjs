#!/usr/bin/env node
// Entry point for the `witness-processor` bin (MP4 jobs with ffmpeg). Node 22.18+ runs the TypeScript sources
// directly (type stripping); there is no build step.
import { main } from '../src/cli.ts';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`witness-processor: unexpected error: ${error?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
