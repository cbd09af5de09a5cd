/**
 * witness-agent's broker socket (agents/agent/src/broker.ts): a login's recorder, running as the user, asks
 * the root broker — which alone reads the agent key — for a session of its own. One JSON line each way. The
 * broker takes the user from the socket's peer credentials and refuses a request naming another.
 */
import { z } from 'zod';
import { AgentPolicyReply } from './agent-policy.ts';
import { AgentLogin } from './session.ts';

export const BrokerRequest = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('login'),
    /** The user the recorder believes it records (its account, made printable); checked against the peer. */
    user: z.string().min(1).max(300),
    protocol: z.enum(['ssh', 'console']),
    login: AgentLogin,
  }),
  /** Upload what the spool holds from logins recorded while Witness (or the broker) could not be reached. */
  z.strictObject({ type: z.literal('flush') }),
]);
export type BrokerRequest = z.infer<typeof BrokerRequest>;

export const BrokerReply = z.discriminatedUnion('type', [
  /** A session for this login only: its ingest token (renewed over its control socket), not the agent key. */
  z.strictObject({
    type: z.literal('launched'),
    server: z.string(),
    sessionId: z.string(),
    token: z.string(),
    expiresAt: z.string(),
  }),
  /** The administrator's rule for this host says its logins are not recorded. */
  z.strictObject({ type: z.literal('not_recorded'), rule: z.string().nullable() }),
  /** Witness could not be reached or refused the key: record to the spool (or refuse, failClosed). */
  z.strictObject({ type: z.literal('offline'), why: z.string(), policy: AgentPolicyReply.nullable() }),
  /** The broker refuses this request (another user's name, a malformed line). */
  z.strictObject({ type: z.literal('refused'), code: z.string(), message: z.string() }),
  z.strictObject({ type: z.literal('flushing') }),
]);
export type BrokerReply = z.infer<typeof BrokerReply>;

/** A request line longer than this is refused. */
export const MAX_BROKER_LINE = 16 * 1024;
