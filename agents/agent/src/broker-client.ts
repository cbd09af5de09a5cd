/** A login's recorder asking the root broker (broker.ts) over its unix socket: one JSON line each way. */
import net from 'node:net';
import { BrokerReply, type BrokerRequest } from '../../../protocol/agent-broker.ts';

/** The broker launches with the server's own timeouts (10 s policy, 30 s launch): it always answers first. */
const ANSWER_TIMEOUT_MS = 45_000;

export type BrokerAnswer = BrokerReply | { type: 'unreachable'; why: string };

export function askBroker(
  socketPath: string,
  request: BrokerRequest,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<BrokerAnswer> {
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const socket = net.connect(socketPath);
    const done = (answer: BrokerAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(
      () => done({ type: 'unreachable', why: `the witness-agent broker (${socketPath}) did not answer in time` }),
      timeoutMs,
    );
    socket.once('connect', () => socket.write(`${JSON.stringify(request satisfies BrokerRequest)}\n`));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end === -1) return;
      let json: unknown;
      try {
        json = JSON.parse(text.slice(0, end));
      } catch {
        json = undefined;
      }
      const reply = BrokerReply.safeParse(json);
      done(
        reply.success
          ? reply.data
          : { type: 'unreachable', why: `the witness-agent broker sent an answer this recorder cannot read` },
      );
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({
        type: 'unreachable',
        why: `the witness-agent broker is not running (${socketPath}: ${error.code ?? error.message})`,
      }),
    );
    socket.once('end', () => done({ type: 'unreachable', why: 'the witness-agent broker closed the connection' }));
  });
}
