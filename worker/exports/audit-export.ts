/**
 * The audit log as a file (`GET /api/v1/audit/export?format=csv|json&…filters`): every row the filters select,
 * newest first, each with its sentence beside the raw fields. Streamed a page at a time; at most
 * MAX_EXPORT_ROWS rows a file, the next file's cursor in `X-Witness-Next-Cursor` when there are more.
 */
import { stringify } from 'csv-stringify/sync';
import { type AuditRow, auditSentenceText } from '../../protocol/audit-sentence.ts';
import { streamOf } from './stream.ts';

/** Rows read per query. */
const PAGE = 500;
/** Rows in one file: a bound on one request's D1 reads and CPU. */
export const MAX_EXPORT_ROWS = 100_000;

export interface ExportedAuditRow extends AuditRow {
  id: number;
  at: string;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
}

export type AuditPageReader = (cursor: number | null, limit: number) => Promise<ExportedAuditRow[]>;

const COLUMNS = [
  'id',
  'at',
  'sentence',
  'actorKind',
  'actorName',
  'actorId',
  'action',
  'targetType',
  'targetId',
  'sessionUser',
  'sessionTarget',
  'ip',
  'userAgent',
  'details',
] as const;

async function* rows(read: AuditPageReader, first: number | null, max: number): AsyncGenerator<ExportedAuditRow[]> {
  let cursor = first;
  for (let left = max; left > 0; ) {
    const want = Math.min(PAGE, left);
    const page = await read(cursor, want);
    if (page.length > 0) yield page;
    if (page.length < want) return;
    left -= page.length;
    cursor = page.at(-1)?.id ?? null;
  }
}

function flat(row: ExportedAuditRow): Record<(typeof COLUMNS)[number], unknown> {
  return {
    id: row.id,
    at: row.at,
    sentence: auditSentenceText(row),
    actorKind: row.actorKind,
    actorName: row.actorName,
    actorId: row.actorId,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    sessionUser: row.session?.user ?? null,
    sessionTarget: row.session?.target ?? null,
    ip: row.ip,
    userAgent: row.userAgent,
    details: row.details === null ? null : JSON.stringify(row.details),
  };
}

/** CSV with a header row; a cell that a spreadsheet would run as a formula is prefixed with `'`. */
export function auditCsv(
  read: AuditPageReader,
  cursor: number | null,
  max = MAX_EXPORT_ROWS,
): ReadableStream<Uint8Array> {
  async function* chunks(): AsyncGenerator<string> {
    yield stringify([COLUMNS as unknown as string[]]);
    for await (const page of rows(read, cursor, max)) {
      yield stringify(page.map(flat), { columns: [...COLUMNS], escape_formulas: true });
    }
  }
  return streamOf(chunks());
}

/** One JSON document: `{"entries": [...]}`, each entry as the audit API lists it plus its sentence. */
export function auditJson(
  read: AuditPageReader,
  cursor: number | null,
  max = MAX_EXPORT_ROWS,
): ReadableStream<Uint8Array> {
  async function* chunks(): AsyncGenerator<string> {
    yield '{"entries":[\n';
    let first = true;
    for await (const page of rows(read, cursor, max)) {
      yield (first ? '' : ',\n') +
        page.map((row) => JSON.stringify({ ...row, sentence: auditSentenceText(row) })).join(',\n');
      first = false;
    }
    yield '\n]}\n';
  }
  return streamOf(chunks());
}
