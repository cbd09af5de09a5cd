/**
 * `npm run check:imports`: the dependency rules the folders stand for (README, "Layout"). No import circles
 * anywhere; the session object (durable/) and the Worker (worker/) share code only through server/ and
 * protocol/, and the Worker sees the object only through its public surface (durable/api.ts).
 */
module.exports = {
  forbidden: [
    {
      name: 'durable-not-into-worker',
      severity: 'error',
      comment: 'The session object uses shared server code (server/, protocol/), never the Worker’s own modules.',
      from: { path: '^durable/' },
      to: { path: '^worker/' },
    },
    {
      name: 'worker-only-durable-api',
      severity: 'error',
      comment: 'The Worker sees the session object through durable/api.ts (and its entry exports the class).',
      from: { path: '^worker/', pathNot: '^worker/index\\.ts$' },
      to: { path: '^durable/', pathNot: '^durable/api\\.ts$' },
    },
    {
      name: 'server-shared-only',
      severity: 'error',
      comment: 'server/ is what the Worker and the object share: it depends on neither.',
      from: { path: '^server/' },
      to: { path: '^(worker|durable)/' },
    },
    {
      name: 'protocol-stands-alone',
      severity: 'error',
      comment: 'protocol/ is shared with the agents and the console: it imports only protocol/ and libraries.',
      from: { path: '^protocol/' },
      to: { path: '^(worker|durable|server|agents|client|scripts)/' },
    },
    {
      name: 'agents-not-into-server',
      severity: 'error',
      comment: 'The launcher, the SSH proxy and verify run on other machines: they share protocol/ only.',
      from: { path: '^agents/' },
      to: { path: '^(worker|durable|server|client|scripts)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A circle of imports: one of its files should not need the other (an interface file imports none of its implementations).',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.wrangler|\\.ci)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs'] },
  },
};
