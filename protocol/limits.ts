/**
 * How much one HTTP request to Witness may hold (docs/ingest-protocol.md, "Request limits"). On Cloudflare the
 * edge refuses what is over its own limits before the Worker runs, and the Worker checks each route's; under
 * `npm start` the local edge (scripts/local-edge.ts) checks these first, since wrangler dev checks none.
 */
import { MAX_BATCH_BYTES } from './activity.ts';
import { MAX_PIECE_BYTES } from './ingest.ts';
import { PART_BYTES } from './processing.ts';

/** Longest request target (path and query), as on Cloudflare. */
export const MAX_URL_BYTES = 16 * 1024;
/** Largest request head, request line and headers together (Cloudflare allows 128 KB of headers). */
export const MAX_REQUEST_HEAD_BYTES = 128 * 1024;
/** JSON bodies of the API, and any other body outside ingest: small. */
export const MAX_API_BODY_BYTES = 64 * 1024;
/** A request body that stops arriving for this long is given up (408). */
export const BODY_IDLE_TIMEOUT_MS = 30_000;

export interface BodyLimit {
  /** Largest body, declared or streamed. */
  maxBytes: number;
  /** Whether the request must declare its length (411 without it): media pieces, whose length is checked. */
  lengthRequired: boolean;
  /** The code of the 413 answer, and what its message calls the body. */
  tooLargeCode: string;
  what: string;
}

const PIECE_PATH = /^\/ingest\/v1\/sessions\/[^/]+\/pieces\/[^/]+$/;
const BATCH_PATH = /^\/ingest\/v1\/sessions\/[^/]+\/events\/[^/]+$/;
const MP4_PART_PATH = /^\/api\/v1\/processing\/jobs\/[^/]+\/parts\/[^/]+$/;

/**
 * The body limit of a route, before anything else is known of the request. A piece's limit here is the
 * largest of any format; the Worker then applies its format's own (a terminal log's pieces are smaller).
 */
export function bodyLimitFor(method: string, pathname: string): BodyLimit {
  if (method === 'PUT' && PIECE_PATH.test(pathname)) {
    return { maxBytes: MAX_PIECE_BYTES, lengthRequired: true, tooLargeCode: 'piece_too_large', what: 'A piece' };
  }
  if (method === 'POST' && BATCH_PATH.test(pathname)) {
    return {
      maxBytes: MAX_BATCH_BYTES,
      lengthRequired: false,
      tooLargeCode: 'batch_too_large',
      what: 'An event batch',
    };
  }
  if (method === 'PUT' && MP4_PART_PATH.test(pathname)) {
    return { maxBytes: PART_BYTES, lengthRequired: false, tooLargeCode: 'part_too_large', what: 'An MP4 part' };
  }
  return {
    maxBytes: MAX_API_BODY_BYTES,
    lengthRequired: false,
    tooLargeCode: 'body_too_large',
    what: 'A request body',
  };
}
