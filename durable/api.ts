/**
 * The session object's public surface: what the Worker may ask it (the RPC methods of `SessionDO`, in
 * session-do.ts) and the types of their answers. The Worker imports these types from here and nothing else of
 * durable/; the object's internals (its record, store, sockets) stay behind this file.
 */
import type {
  EndReason,
  Policy,
  Protocol,
  RecordingFormat,
  RecordingStatus,
  SessionStatus,
} from '../protocol/session.ts';
import type { Viewer } from '../protocol/viewer.ts';

export type { PublishOutcome } from './evidence.ts';

export interface SessionInit {
  sessionId: string;
  user: string;
  target: string;
  protocol: Protocol;
  format: RecordingFormat;
  policy: Policy;
  /** The storage location (server/storage.ts) its media is written to. */
  storage: string;
  createdAt: number;
  launchExpiresAt: number;
}

/** Why a call was refused: the status and code the Worker answers with. */
export type Refusal = { kind: 'refused'; status: 404 | 409; code: string; message: string };

/**
 * Whether a piece may be stored now; `format` says what the piece must be. `go` names the attempt: its bytes go
 * to their own object (`pieceKey(…, attempt)`) and only `pieceStored` with the same attempt makes them the piece.
 */
export type BeginPiece =
  | { kind: 'go'; format: RecordingFormat; keystrokes: boolean; attempt: string; storage: string }
  | { kind: 'stored'; format: RecordingFormat; sha256: string; size: number }
  | Refusal;

/** `exists`: another attempt made the piece first (the caller compares its bytes' hash). */
export type PieceCommit =
  | { kind: 'stored'; storedAt: number }
  | { kind: 'exists'; sha256: string; size: number }
  | Refusal;

export type TerminateOutcome =
  | { kind: 'done'; delivered: boolean; status: SessionStatus; endReason: EndReason | null }
  | Refusal;

export interface LiveState {
  status: SessionStatus;
  endReason: EndReason | null;
  launcherConnected: boolean;
  viewers: Viewer[];
  pieces: number;
  bytes: number;
  lastSeq: number | null;
  missingPieces: Array<{ from: number; to: number }>;
  lastActivityAt: number | null;
  recordingStatus: RecordingStatus;
}
