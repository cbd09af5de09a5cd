/**
 * `npm run check:imports`: the dependency rules the folders stand for (README, "Layout"). No import circles
 * anywhere; the session object (durable/) and the Worker (worker/) reach each other only through server/ and
 * protocol/, and the object's public surface (durable/api.ts).
 */
module.exports = {
  forbidden: [
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
