/**
 * The proxy's configuration file (JSON): where it listens, which Witness server records its sessions, who may
 * log in with which key, and the targets it connects to with their credentials and pinned host keys.
 * Relative paths are resolved against the configuration file's folder.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { fingerprint, parsePublicKey } from './keys.ts';

const name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits and . _ @ - only (no "+": it separates user and target)');

const Target = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535).default(22),
    /** The account the proxy logs in as on the target. */
    username: z.string().min(1),
    /** Path of an OpenSSH private key (unencrypted, or with `passphrase`). */
    privateKey: z.string().min(1).optional(),
    passphrase: z.string().optional(),
    password: z.string().optional(),
    /** The target's host key fingerprint as `ssh-keygen -lf` prints it: "SHA256:…". Any other key is refused. */
    hostKey: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be a SHA256 fingerprint: "SHA256:" + 43 characters'),
  })
  .refine((t) => t.privateKey !== undefined || t.password !== undefined, {
    message: 'a target needs "privateKey" (a path) or "password"',
  });

/** Ciphers the proxy may offer to clients (ssh2 supports these without legacy CBC modes). */
const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
  'chacha20-poly1305@openssh.com',
] as const;

const User = z.strictObject({
  /** OpenSSH public key lines, as in authorized_keys. */
  authorizedKeys: z.array(z.string().min(1)).min(1),
  /** Targets this user may open, or ["*"] for all. */
  targets: z.array(z.string().min(1)).min(1),
});

export const ProxyConfigFile = z
  .strictObject({
    listen: z.strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65_535).default(2222),
    }),
    /** The Witness server, e.g. "https://witness.example.com". */
    server: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
    /** API key with the `launch` scope, for logins by key (user+target). */
    apiKey: z.string().min(1).optional(),
    /** Or the name of the environment variable that holds it. */
    apiKeyEnv: z.string().min(1).optional(),
    /** The proxy's own host key (OpenSSH private key); `--init` creates it. */
    hostKey: z.string().min(1),
    /** Where pieces wait for the server's acknowledgement. */
    spoolDir: z.string().min(1).optional(),
    /** How long to keep uploading a session's pieces after its SSH connection closed. */
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(10 * 60_000),
    /** Message shown before authentication. */
    banner: z.string().max(4096).optional(),
    /**
     * Ciphers offered to users' clients. The client picks its first one that the server offers, and OpenSSH
     * lists chacha20-poly1305 first, which ssh2 runs slower (docs/ssh-proxy.md): only AES-GCM by default.
     * Add `aes128-ctr` (or `chacha20-poly1305@openssh.com`) for clients without AES-GCM.
     */
    ciphers: z.array(z.enum(CIPHERS)).min(1).default(['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com']),
    users: z.record(name, User).default({}),
    targets: z.record(name, Target),
  })
  .superRefine((config, ctx) => {
    for (const [user, entry] of Object.entries(config.users)) {
      for (const target of entry.targets) {
        if (target !== '*' && !(target in config.targets)) {
          ctx.addIssue({ code: 'custom', path: ['users', user, 'targets'], message: `unknown target "${target}"` });
        }
      }
      entry.authorizedKeys.forEach((line, index) => {
        if (parsePublicKey(line) === null) {
          ctx.addIssue({
            code: 'custom',
            path: ['users', user, 'authorizedKeys', index],
            message: 'not an OpenSSH public key line',
          });
        }
      });
    }
  });
export type ProxyConfigFile = z.infer<typeof ProxyConfigFile>;
export type TargetConfig = z.infer<typeof Target>;

/** The configuration with paths resolved and secrets read. */
export interface ProxyConfig extends ProxyConfigFile {
  apiKeyValue: string | null;
  hostKeyPath: string;
  spoolRoot: string;
  /** Parsed authorized keys per user. */
  keys: Map<string, Buffer[]>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and checks the configuration file; throws ConfigError with every problem listed. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read the configuration ${path}: ${(error as Error).message}`);
  }
  const parsed = ProxyConfigFile.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration ${path}:\n${problems.join('\n')}`);
  }
  const config = parsed.data;
  const base = dirname(resolve(path));
  const at = (file: string) => (isAbsolute(file) ? file : join(base, file));
  for (const target of Object.values(config.targets)) {
    if (target.privateKey) target.privateKey = at(target.privateKey);
  }
  const apiKeyValue = config.apiKey ?? (config.apiKeyEnv ? (env[config.apiKeyEnv] ?? null) : null);
  if (config.apiKeyEnv && !apiKeyValue) {
    throw new ConfigError(`the environment variable ${config.apiKeyEnv} (apiKeyEnv) is not set`);
  }
  if (!apiKeyValue && Object.keys(config.users).length > 0) {
    throw new ConfigError('users log in by key, which needs "apiKey" or "apiKeyEnv" to ask the server for launches');
  }
  const keys = new Map<string, Buffer[]>();
  for (const [user, entry] of Object.entries(config.users)) {
    keys.set(
      user,
      entry.authorizedKeys.map((line) => parsePublicKey(line) as Buffer),
    );
  }
  return {
    ...config,
    apiKeyValue,
    hostKeyPath: at(config.hostKey),
    spoolRoot: config.spoolDir ? at(config.spoolDir) : join(homedir(), '.cache', 'witness-ssh-proxy', 'spool'),
    keys,
  };
}

/** Reads the host key, with a hint to run --init when it is missing. */
export function readHostKey(config: ProxyConfig): Buffer {
  if (!existsSync(config.hostKeyPath)) {
    throw new ConfigError(`the host key ${config.hostKeyPath} does not exist; create it with --init`);
  }
  const key = readFileSync(config.hostKeyPath);
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error)
    throw new ConfigError(`cannot read the host key ${config.hostKeyPath}: ${parsed.message}`);
  return key;
}

export const EXAMPLE_CONFIG = {
  listen: { host: '0.0.0.0', port: 2222 },
  server: 'http://127.0.0.1:8787',
  apiKeyEnv: 'WITNESS_API_KEY',
  hostKey: './ssh-proxy-host-key',
  users: {
    alice: { authorizedKeys: ['ssh-ed25519 AAAA… alice@laptop'], targets: ['db-01'] },
  },
  targets: {
    'db-01': {
      host: '10.0.0.5',
      port: 22,
      username: 'admin',
      privateKey: './keys/db-01',
      hostKey: 'SHA256:… (ssh-keyscan db-01 | ssh-keygen -lf -)',
    },
  },
};

/**
 * `--init`: creates the host key (ed25519) if it is missing, and an example configuration if there is none.
 * Returns what it did, for the user.
 */
export function initProxy(configPath: string): string[] {
  const done: string[] = [];
  if (!existsSync(configPath)) {
    mkdirSync(dirname(resolve(configPath)), { recursive: true });
    writeFileSync(configPath, `${JSON.stringify(EXAMPLE_CONFIG, null, 2)}\n`, { mode: 0o600 });
    done.push(`wrote an example configuration to ${configPath}: fill in users and targets`);
  }
  let hostKey: string;
  try {
    const json = JSON.parse(readFileSync(configPath, 'utf8')) as { hostKey?: unknown };
    hostKey = typeof json.hostKey === 'string' ? json.hostKey : EXAMPLE_CONFIG.hostKey;
  } catch (error) {
    throw new ConfigError(`cannot read the configuration ${configPath}: ${(error as Error).message}`);
  }
  const keyPath = isAbsolute(hostKey) ? hostKey : join(dirname(resolve(configPath)), hostKey);
  if (existsSync(keyPath)) {
    done.push(`host key ${keyPath} exists (${fingerprintOfPrivateKey(readFileSync(keyPath))})`);
  } else {
    mkdirSync(dirname(keyPath), { recursive: true });
    const pair = generateHostKey();
    writeFileSync(keyPath, pair.private, { mode: 0o600 });
    writeFileSync(`${keyPath}.pub`, `${pair.public}\n`, { mode: 0o644 });
    done.push(`created the host key ${keyPath} (${fingerprintOfPrivateKey(Buffer.from(pair.private))})`);
  }
  return done;
}

/**
 * A new ed25519 host key that ssh2 can read back. ssh2's generator strips leading zero bytes from the public
 * key, so about one key in 256 (a public key starting with 0x00) is written malformed and can never be loaded
 * (mscdex/ssh2 #1390, #1514, open in 1.17.0). Such a key is thrown away and another made.
 */
export function generateHostKey(
  generate: () => { private: string; public: string } = () => ssh2.utils.generateKeyPairSync('ed25519'),
): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    const pair = generate();
    const readable =
      !(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error);
    if (readable) return pair;
    if (attempt >= 16) throw new ConfigError('could not generate a host key that ssh2 can read (16 tries)');
  }
}

export function fingerprintOfPrivateKey(key: Buffer): string {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new ConfigError(`cannot read the host key: ${parsed.message}`);
  const one = Array.isArray(parsed) ? parsed[0] : parsed;
  return fingerprint(one.getPublicSSH());
}
