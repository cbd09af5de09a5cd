#!/usr/bin/env -S node --single-threaded-gc
// Entry point for the `witness-ssh-proxy` bin. Node 22.18+ runs the TypeScript sources directly
// (type stripping); there is no build step. The node flag: src/node-flags.ts.
import { main } from '../src/cli.ts';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`witness-ssh-proxy: unexpected error: ${error?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
