/**
 * Runs the fake Witness server by hand, for manual launcher runs:
 *   node test/unit/run-fake-ingest.ts [--out recording.webm] [--terminate SEQ]
 * prints a session id and token; on Ctrl-C (or when the launcher ends) writes the stored pieces, in seq
 * order, to --out and prints a per-piece summary and the activity events received.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FakeWitness } from '../support/fake-witness.ts';

const { values } = parseArgs({ options: { out: { type: 'string' }, terminate: { type: 'string' } } });
const server = new FakeWitness({ terminateAfterSeq: values.terminate ? Number(values.terminate) : undefined });
await server.start();
const session = server.createSession('alice', 'db-01', 'desktop');
console.log(`server ${server.url}\nsession ${session.id}\ntoken ${server.token(session)}`);

const finish = async () => {
  const seqs = [...session.pieces.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const seq of seqs) {
    const piece = session.pieces.get(seq);
    if (!piece) continue;
    total += piece.bytes.length;
    console.log(
      `seq ${seq}: ${piece.bytes.length} bytes, ${piece.startMs}-${piece.endMs} ms, keyframe ${piece.keyframe}`,
    );
  }
  console.log(
    `${seqs.length} pieces, ${total} bytes; messages: ${session.received.map((r) => r.message.type).join(',')}`,
  );
  // Activity, one JSON line per event, in batch order.
  for (const event of server.events(session)) console.log(JSON.stringify(event));
  if (values.out)
    writeFileSync(values.out, Buffer.concat(seqs.map((seq) => session.pieces.get(seq)?.bytes ?? Buffer.alloc(0))));
  await server.close();
  process.exit(0);
};
process.on('SIGINT', () => void finish());
process.on('SIGTERM', () => void finish());
