#!/usr/bin/env node
// Entry point for the `witness-agent` bin. Node 22.18+ runs the TypeScript sources directly (type stripping).
import { main } from '../src/cli.ts';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`witness-agent: unexpected error: ${error?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
