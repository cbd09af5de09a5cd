/**
 * Sign-in throttling: guessing a password is slow, yet no stranger can lock its owner out. Failures count per
 * account and client address, where waits grow with each failure; and per account over every address that has
 * not signed in to it lately, which slows a crowd of addresses but never the places its owner signs in from.
 *
 * An attempt counts as a failure before its password is checked, in the one statement that checks its wait,
 * and is taken back if the password was right: parallel attempts cannot all pass a limit before any failed.
 */
import { and, eq, gt, gte, inArray, type SQL, sql } from 'drizzle-orm';
import { loginThrottle } from '../../schema/index.ts';
import { UNTRUSTED_ADDRESS } from '../client-address.ts';
import type { Database } from '../../server/db/index.ts';

export interface ThrottlePolicy {
  /** Failures allowed before each next attempt must wait. */
  freeFailures: number;
  /** The longest wait. */
  maxDelayMs: number;
}

/** Per account and address: after 15 failures, about 4 attempts an hour. */
export const ADDRESS_LIMIT: ThrottlePolicy = { freeFailures: 5, maxDelayMs: 15 * 60_000 };
/** Per account, from addresses it has not signed in from lately: a minute apart at worst, never locked. */
export const ACCOUNT_LIMIT: ThrottlePolicy = { freeFailures: 20, maxDelayMs: 60_000 };
/** A count is forgotten this long after its last failure. */
export const FORGET_AFTER_MS = 60 * 60_000;
/** An address the account signed in from within this time is not held back by the account's limit. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 60 * 60_000;
/** The `scope` of an account's own count. */
export const ACCOUNT_SCOPE = '*';

/** How long the next attempt waits after the `failures`-th: nothing, then 1 s, doubling with each, capped. */
export function delayAfter(failures: number, policy: ThrottlePolicy): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxDelayMs, 1000 * 2 ** (failures - policy.freeFailures));
}

/** delayAfter in SQL, over a row's stored count (the shift is bounded: 2^30 s is far above any cap). */
function delaySql(policy: ThrottlePolicy): SQL {
  const { failures } = loginThrottle;
  return sql`(CASE WHEN ${failures} < ${policy.freeFailures} THEN 0
    ELSE MIN(${policy.maxDelayMs}, 1000 << MIN(${failures} - ${policy.freeFailures}, 30)) END)`;
}

type Row = typeof loginThrottle.$inferSelect;

/** An attempt let through, with the counts it was charged to. */
export interface Admitted {
  admitted: true;
  address: Row;
  /** Null when the address signed in to this account lately, so the account's limit does not apply. */
  account: Row | null;
}

export interface Refused {
  admitted: false;
  retryAfterMs: number;
}

/** A run of failures that has just begun to make attempts wait, to be audited (once per run). */
export interface ThrottleStarted {
  limit: 'address' | 'account';
  failures: number;
  delayMs: number;
}

/**
 * Lets an attempt at `username` from `addressKey` (client-address.ts `throttleKey`) through, counting it as a
 * failure, or says how long it must wait.
 */
export async function admitSignIn(
  db: Database,
  username: string,
  addressKey: string,
  now: number,
): Promise<Admitted | Refused> {
  const address = await charge(db, username, addressKey, ADDRESS_LIMIT, now);
  if (!address) return refusal(db, username, addressKey, ADDRESS_LIMIT, now);
  // Everyone without a believable address shares one key, so that key is never the owner's known place.
  const known =
    addressKey !== UNTRUSTED_ADDRESS &&
    address.lastSuccessAt !== null &&
    address.lastSuccessAt > now - KNOWN_ADDRESS_MS;
  if (known) return { admitted: true, address, account: null };
  const account = await charge(db, username, ACCOUNT_SCOPE, ACCOUNT_LIMIT, now);
  if (account) return { admitted: true, address, account };
  // Refused after all: its address's count is taken back. That address's last failure stays at `now`, which can
  // only lengthen that one address's own wait.
  await takeBack(db, username, addressKey);
  return refusal(db, username, ACCOUNT_SCOPE, ACCOUNT_LIMIT, now);
}

/** The password was right: this address starts afresh and is remembered; the account's count is taken back. */
export async function signInSucceeded(db: Database, username: string, attempt: Admitted, now: number): Promise<void> {
  await db
    .update(loginThrottle)
    .set({ failures: 0, lastFailureAt: null, reportedAt: null, lastSuccessAt: now })
    .where(and(eq(loginThrottle.username, username), eq(loginThrottle.scope, attempt.address.scope)))
    .run();
  if (attempt.account) await takeBack(db, username, ACCOUNT_SCOPE);
}

/** The password was wrong: the counts stand. Returns the limits whose waits this failure began. */
export async function signInFailed(
  db: Database,
  username: string,
  attempt: Admitted,
  now: number,
): Promise<ThrottleStarted[]> {
  const started: ThrottleStarted[] = [];
  const counts: Array<{ row: Row; policy: ThrottlePolicy; limit: ThrottleStarted['limit'] }> = [
    { row: attempt.address, policy: ADDRESS_LIMIT, limit: 'address' },
  ];
  if (attempt.account) counts.push({ row: attempt.account, policy: ACCOUNT_LIMIT, limit: 'account' });
  for (const { row, policy, limit } of counts) {
    if (row.failures < policy.freeFailures || row.reportedAt !== null) continue;
    // Marked in one statement, so that of two failures racing to begin the run only one reports it.
    const marked = await db
      .update(loginThrottle)
      .set({ reportedAt: now })
      .where(
        and(
          eq(loginThrottle.username, username),
          eq(loginThrottle.scope, row.scope),
          sql`${loginThrottle.reportedAt} IS NULL`,
          gte(loginThrottle.failures, policy.freeFailures),
        ),
      )
      .returning({ failures: loginThrottle.failures })
      .get();
    if (marked) started.push({ limit, failures: marked.failures, delayMs: delayAfter(marked.failures, policy) });
  }
  return started;
}

/** An administrator's unlock: every count of `username` starts afresh. Returns how many limits held it back. */
export async function clearThrottle(db: Database, username: string, now: number): Promise<number> {
  const held = await throttledUsernames(db, now, [username]);
  await db
    .update(loginThrottle)
    .set({ failures: 0, lastFailureAt: null, reportedAt: null })
    .where(eq(loginThrottle.username, username))
    .run();
  return held.get(username) ?? 0;
}

/** Of `usernames` (or all), those with a limit that makes their attempts wait, and how many such limits. */
export async function throttledUsernames(
  db: Database,
  now: number,
  usernames?: string[],
): Promise<Map<string, number>> {
  const rows = await db
    .select()
    .from(loginThrottle)
    .where(
      and(
        gte(loginThrottle.failures, Math.min(ADDRESS_LIMIT.freeFailures, ACCOUNT_LIMIT.freeFailures)),
        gt(loginThrottle.lastFailureAt, now - FORGET_AFTER_MS),
        usernames ? inArray(loginThrottle.username, usernames) : undefined,
      ),
    )
    .all();
  const held = new Map<string, number>();
  for (const row of rows) {
    const policy = row.scope === ACCOUNT_SCOPE ? ACCOUNT_LIMIT : ADDRESS_LIMIT;
    if (row.failures >= policy.freeFailures) held.set(row.username, (held.get(row.username) ?? 0) + 1);
  }
  return held;
}

/**
 * Counts one failure of `username` in `scope` unless its last failure still makes attempts wait; a count
 * whose last failure is FORGET_AFTER_MS old starts again at one. Null when the attempt must wait.
 */
async function charge(
  db: Database,
  username: string,
  scope: string,
  policy: ThrottlePolicy,
  now: number,
): Promise<Row | undefined> {
  const { failures, lastFailureAt, reportedAt } = loginThrottle;
  const forgotten = sql`(${lastFailureAt} IS NULL OR ${lastFailureAt} <= ${now - FORGET_AFTER_MS})`;
  return db
    .insert(loginThrottle)
    .values({ username, scope, failures: 1, lastFailureAt: now })
    .onConflictDoUpdate({
      target: [loginThrottle.username, loginThrottle.scope],
      set: {
        failures: sql`CASE WHEN ${forgotten} THEN 1 ELSE ${failures} + 1 END`,
        reportedAt: sql`CASE WHEN ${forgotten} THEN NULL ELSE ${reportedAt} END`,
        lastFailureAt: now,
      },
      setWhere: sql`${forgotten} OR ${lastFailureAt} + ${delaySql(policy)} <= ${now}`,
    })
    .returning()
    .get();
}

async function takeBack(db: Database, username: string, scope: string): Promise<void> {
  await db
    .update(loginThrottle)
    .set({ failures: sql`MAX(${loginThrottle.failures} - 1, 0)` })
    .where(and(eq(loginThrottle.username, username), eq(loginThrottle.scope, scope)))
    .run();
}

async function refusal(
  db: Database,
  username: string,
  scope: string,
  policy: ThrottlePolicy,
  now: number,
): Promise<Refused> {
  const row = await db
    .select()
    .from(loginThrottle)
    .where(and(eq(loginThrottle.username, username), eq(loginThrottle.scope, scope)))
    .get();
  const until = row?.lastFailureAt == null ? now : row.lastFailureAt + delayAfter(row.failures, policy);
  return { admitted: false, retryAfterMs: Math.max(until - now, 1) };
}
