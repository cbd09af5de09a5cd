/**
 * Runs the fake ingest server by hand, for manual launcher runs:
 *   node test/unit/run-fake-ingest.ts [--port N] [--out recording.webm]
 * prints a session id and token; on Ctrl-C (or when the launcher ends) writes the stored pieces, in seq
 * order, to --out and prints a per-piece summary and the activity events received.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FakeIngestServer } from './fake-ingest-server.ts';

const { values } = parseArgs({ options: { out: { type: 'string' }, terminate: { type: 'string' } } });
const server = new FakeIngestServer({ terminateAfterSeq: values.terminate ? Number(values.terminate) : undefined });
await server.start();
const { token } = server.issueToken();
console.log(`server ${server.url}\nsession ${server.sessionId}\ntoken ${token}`);

const finish = async () => {
  const seqs = [...server.pieces.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const seq of seqs) {
    const piece = server.pieces.get(seq);
    if (!piece) continue;
    total += piece.bytes.length;
    console.log(
      `seq ${seq}: ${piece.bytes.length} bytes, ${piece.startMs}-${piece.endMs} ms, keyframe ${piece.keyframe}`,
    );
  }
  console.log(
    `${seqs.length} pieces, ${total} bytes; messages: ${server.received.map((r) => r.message.type).join(',')}`,
  );
  // Activity, one JSON line per event, in batch order.
  for (const event of server.events()) console.log(JSON.stringify(event));
  if (values.out)
    writeFileSync(values.out, Buffer.concat(seqs.map((seq) => server.pieces.get(seq)?.bytes ?? Buffer.alloc(0))));
  await server.close();
  process.exit(0);
};
process.on('SIGINT', () => void finish());
process.on('SIGTERM', () => void finish());
