/**
 * The first admin. The first time anyone signs in, `admin` is created with WITNESS_ADMIN_PASSWORD (set by the
 * operator, or generated and printed once by `npm start`), unless that already happened. With
 * WITNESS_ADMIN_PASSWORD_ONE_TIME=1 the password must be changed at first sign-in.
 */
import { eq } from 'drizzle-orm';
import { Permission } from '../../protocol/permissions.ts';
import { settings, users } from '../../schema/index.ts';
import type { Database } from '../../server/db/index.ts';
import { hashPassword } from './password.ts';

const DONE_KEY = 'bootstrap.admin';
let done = false;

export async function ensureBootstrapAdmin(env: Env, db: Database): Promise<void> {
  if (done) return;
  if (await db.select().from(settings).where(eq(settings.key, DONE_KEY)).get()) {
    done = true;
    return;
  }
  const password = env.WITNESS_ADMIN_PASSWORD;
  if (!password) {
    console.warn('WITNESS_ADMIN_PASSWORD is not set: the first admin account cannot be created yet.');
    return;
  }
  const now = Date.now();
  await db.batch([
    db
      .insert(users)
      .values({
        id: crypto.randomUUID(),
        username: 'admin',
        displayName: 'Administrator',
        passwordHash: await hashPassword(password),
        permissions: [...Permission.options],
        mustChangePassword: env.WITNESS_ADMIN_PASSWORD_ONE_TIME === '1',
        createdAt: now,
      })
      .onConflictDoNothing(),
    db
      .insert(settings)
      .values({ key: DONE_KEY, value: { at: now }, updatedAt: now })
      .onConflictDoNothing(),
  ]);
  done = true;
}
