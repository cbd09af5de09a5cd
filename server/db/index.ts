import { drizzle } from 'drizzle-orm/d1';
import * as schema from '../../schema/index.ts';

/** The D1 database through drizzle. Cheap to create; no state of its own. */
export function database(db: D1Database) {
  return drizzle(db, { schema });
}
export type Database = ReturnType<typeof database>;
