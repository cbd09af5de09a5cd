/**
 * Secrets in recorded text: one module that every capture path (the launcher's processes and window titles,
 * the SSH proxy's input, the host agent) and the server (a second line, for events from older clients) use
 * to replace them before anything is stored. A secret is replaced by a marker that names its kind,
 * `<redacted:password>`, and every replacement is counted, so an auditor knows something was there.
 *
 * What is found: password options (`-pSECRET` of the MySQL tools, `--password=…`, `--password …`, `--pass`,
 * `--passwd`, `sshpass -p …`), assignments to names ending in PASSWORD, PASSWD, TOKEN, SECRET, API_KEY and
 * the like (`PGPASSWORD=…`, `AWS_SECRET_ACCESS_KEY=…`), `Authorization:` headers and bearer tokens, URL
 * credentials (`https://user:pass@host`), AWS access key ids, private-key blocks and JWTs. Administrators add
 * their own patterns in Settings (`CustomPattern`); those apply to events stored from then on. An
 * administrator's pattern runs on RE2 (re2js: linear time, no backtracking), so no pattern — `(a+)+$` included —
 * can make redaction take longer than the text is long; RE2 has no backreferences or lookaround, so a pattern
 * that uses them is refused when it is set.
 */
import { RE2JS } from 're2js';
import { z } from 'zod';
import type { ActivityEvent } from './activity.ts';

export const SecretKind = z.enum([
  'password',
  'secret-assignment',
  'authorization',
  'url-credentials',
  'aws-access-key',
  'private-key',
  'jwt',
  'custom',
]);
export type SecretKind = z.infer<typeof SecretKind>;

/** How many secrets of each kind were replaced. */
export type RedactionCounts = Partial<Record<SecretKind, number>>;

export function marker(kind: SecretKind, name?: string): string {
  return `<redacted:${name ?? kind}>`;
}

/** A pattern an administrator adds in Settings: a name for its marker, and a regular expression. */
export const CustomPattern = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes, at most 40')
    .refine((name) => !SecretKind.options.includes(name as SecretKind), 'that name is a built-in kind'),
  pattern: z
    .string()
    .min(1)
    .max(500)
    .refine(
      (source) => compiled(source) !== null,
      'not a regular expression RE2 takes (no backreferences or lookaround; see docs/activity.md)',
    )
    .refine((source) => !compiled(source)?.matcher('').find(), 'the pattern matches empty text'),
});
export type CustomPattern = z.infer<typeof CustomPattern>;

/** The pattern compiled for RE2, or null when RE2 refuses it. Compiled once per source. */
const COMPILED = new Map<string, RE2JS | null>();
function compiled(source: string): RE2JS | null {
  let pattern = COMPILED.get(source);
  if (pattern === undefined) {
    try {
      pattern = RE2JS.compile(source);
    } catch {
      pattern = null;
    }
    if (COMPILED.size > 200) COMPILED.clear();
    COMPILED.set(source, pattern);
  }
  return pattern;
}

/** `text` with each match of an administrator's pattern replaced by its marker; how many were. */
function replaceCustom(text: string, pattern: CustomPattern): { text: string; replaced: number } {
  const re = compiled(pattern.pattern);
  if (re === null) return { text, replaced: 0 };
  const matcher = re.matcher(text);
  let out = '';
  let at = 0;
  let replaced = 0;
  while (matcher.find()) {
    const start = matcher.start();
    const end = matcher.end();
    // An empty match (refused when the pattern is set) would replace nothing: skipped.
    if (end === start) continue;
    out += text.slice(at, start) + marker('custom', pattern.name);
    at = end;
    replaced++;
  }
  return replaced === 0 ? { text, replaced } : { text: out + text.slice(at), replaced };
}

/** Options that take a password as their value, attached (`--password=x`) or as the next argument. */
const PASSWORD_OPTIONS = /^--?(?:password|passwd|pass|pwd|db-password|admin-password)$/i;
/** Programs whose `-pSECRET` (attached) is a password, not a port or a path. */
const DASH_P_PROGRAMS = /(?:^|\/)(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb[\w-]*)$/;
/** Programs whose `-p SECRET` (separate) is a password. */
const DASH_P_SEPARATE_PROGRAMS = /(?:^|\/)sshpass$/;
/** A name whose value is a secret: …PASSWORD, …TOKEN, …SECRET, …API_KEY, … (any case). */
const SECRET_NAME =
  '(?:[A-Za-z_][A-Za-z0-9_]*)?(?:PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)';

interface Rule {
  kind: SecretKind;
  pattern: RegExp;
  /** The text that replaces a match: by default the marker alone. */
  replace?: (match: string, ...groups: string[]) => string;
}

/** In order: the wider ones first (a key block is one secret, not many), options before assignments. */
const RULES: readonly Rule[] = [
  {
    kind: 'private-key',
    pattern: /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
  },
  {
    kind: 'authorization',
    pattern:
      /\b((?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|digest|token|negotiate)\s+)?)(?!<redacted:|(?:bearer|basic|digest|token|negotiate)\s)([^\s'"]+)/gi,
    replace: (_m, head: string) => `${head}${marker('authorization')}`,
  },
  {
    kind: 'authorization',
    pattern: /\b(bearer\s+)([A-Za-z0-9\-._~+/]{16,}=*)/gi,
    replace: (_m, head: string) => `${head}${marker('authorization')}`,
  },
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g },
  { kind: 'aws-access-key', pattern: /\b(?:AKIA|ASIA|AIDA|AROA|ANPA|AGPA)[A-Z0-9]{16}\b/g },
  {
    kind: 'url-credentials',
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:)(?!<redacted:)([^\s@/'"]+)(@)/gi,
    replace: (_m, head: string, _secret: string, at: string) => `${head}${marker('url-credentials')}${at}`,
  },
  {
    kind: 'password',
    pattern: /(^|\s)(--?(?:password|passwd|pass|pwd|db-password|admin-password)=)(?!<redacted:)('[^']*'|"[^"]*"|\S+)/gi,
    replace: (_m, space: string, head: string) => `${space}${head}${marker('password')}`,
  },
  {
    kind: 'password',
    pattern:
      /(^|\s)(--?(?:password|passwd|pass|pwd|db-password|admin-password)\s+)(?!-|<redacted:)('[^']*'|"[^"]*"|\S+)/gi,
    replace: (_m, space: string, head: string) => `${space}${head}${marker('password')}`,
  },
  {
    kind: 'password',
    pattern:
      // The options before -p are looked through for at most 300 characters: unbounded, a line of many
      // "mysql" words would take time growing with its square (each one scanned to the end).
      /((?:^|[\s/;|&(])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb[\w-]*)\b[^\n;|&]{0,300}?\s-p)(?!<redacted:)('[^']*'|"[^"]*"|[^\s'"]+)/g,
    replace: (_m, head: string) => `${head}${marker('password')}`,
  },
  {
    kind: 'password',
    pattern: /((?:^|[\s/;|&(])sshpass\s+-p\s*)(?!<redacted:)('[^']*'|"[^"]*"|\S+)/g,
    replace: (_m, head: string) => `${head}${marker('password')}`,
  },
  {
    kind: 'secret-assignment',
    pattern: new RegExp(String.raw`\b(${SECRET_NAME}\s*[=:]\s*)(?!<redacted:)('[^']*'|"[^"]*"|[^\s'"]+)`, 'gi'),
    replace: (_m, head: string) => `${head}${marker('secret-assignment')}`,
  },
];

export interface Redacted {
  text: string;
  counts: RedactionCounts;
}

/** `text` with every secret found replaced by its marker, and how many of each kind. */
export function redactText(text: string, custom: readonly CustomPattern[] = []): Redacted {
  const counts: RedactionCounts = {};
  let out = text;
  for (const rule of RULES) {
    out = out.replace(rule.pattern, (...args: unknown[]) => {
      counts[rule.kind] = (counts[rule.kind] ?? 0) + 1;
      const groups = args.slice(1, -2) as string[];
      return rule.replace ? rule.replace(args[0] as string, ...groups) : marker(rule.kind);
    });
  }
  for (const pattern of custom) {
    const result = replaceCustom(out, pattern);
    if (result.replaced > 0) counts.custom = (counts.custom ?? 0) + result.replaced;
    out = result.text;
  }
  return { text: out, counts };
}

/**
 * argv with secrets replaced, argument by argument: an option that takes a password takes it with `=` or as the
 * next argument (`--password x`, `-p x` of sshpass), a MySQL tool's `-pSECRET` attached; every argument is then
 * read as text (assignments, headers, URLs, keys).
 */
export function redactArgv(
  argv: readonly string[],
  custom: readonly CustomPattern[] = [],
): { argv: string[]; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  const count = (more: RedactionCounts) => addCounts(counts, more);
  const program = argv[0] ?? '';
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const previous = i > 0 ? (argv[i - 1] as string) : '';
    const valueOfPrevious =
      i > 0 &&
      (PASSWORD_OPTIONS.test(previous) || (previous === '-p' && DASH_P_SEPARATE_PROGRAMS.test(program))) &&
      !arg.startsWith('-');
    if (valueOfPrevious && !arg.startsWith('<redacted:')) {
      out.push(marker('password'));
      count({ password: 1 });
      continue;
    }
    const attached = /^(--?[A-Za-z-]+=)(.*)$/s.exec(arg);
    if (attached && PASSWORD_OPTIONS.test((attached[1] as string).slice(0, -1)) && attached[2] !== '') {
      out.push(`${attached[1]}${marker('password')}`);
      count({ password: 1 });
      continue;
    }
    if (DASH_P_PROGRAMS.test(program) && /^-p.+/s.test(arg)) {
      out.push(`-p${marker('password')}`);
      count({ password: 1 });
      continue;
    }
    const text = redactText(arg, custom);
    count(text.counts);
    out.push(text.text);
  }
  return { argv: out, counts };
}

/** Adds `more` into `into`. */
export function addCounts(into: RedactionCounts, more: RedactionCounts): RedactionCounts {
  for (const [kind, n] of Object.entries(more) as Array<[SecretKind, number]>) into[kind] = (into[kind] ?? 0) + n;
  return into;
}

export function totalRedactions(counts: RedactionCounts): number {
  return Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
}

/** How many secrets of each kind `text` shows as replaced: markers of the built-in kinds and of custom patterns. */
export function countMarkers(text: string): RedactionCounts {
  const counts: RedactionCounts = {};
  for (const [, name] of text.matchAll(/<redacted:([a-z0-9-]{1,40})>/g)) {
    const kind: SecretKind = SecretKind.options.includes(name as SecretKind) ? (name as SecretKind) : 'custom';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * `event` with every text it carries redacted (command lines, window titles, typed runs, SSH input and commands,
 * transferred paths), and the counts of what this call replaced. Every capture path and the server call this.
 */
export function redactEvent<E extends ActivityEvent>(
  event: E,
  custom: readonly CustomPattern[] = [],
): { event: E; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  const clean = (text: string) => {
    const result = redactText(text, custom);
    addCounts(counts, result.counts);
    return result.text;
  };
  const out = { ...event } as ActivityEvent;
  switch (out.type) {
    case 'keys':
      out.text = clean(out.text);
      if (out.window) out.window = { ...out.window, title: clean(out.window.title) };
      break;
    case 'process.start':
      out.commandLine = clean(out.commandLine);
      break;
    case 'window.focus':
      out.title = clean(out.title);
      break;
    case 'ssh.input':
    case 'ssh.command':
      out.text = clean(out.text);
      break;
    case 'file.transfer':
      out.path = clean(out.path);
      break;
    case 'process.stop':
      break;
  }
  return { event: out as E, counts };
}

/** The Settings' redaction patterns (`/api/v1/settings/redaction`). */
export const RedactionSettings = z.strictObject({ patterns: z.array(CustomPattern).max(50) });
export type RedactionSettings = z.infer<typeof RedactionSettings>;
