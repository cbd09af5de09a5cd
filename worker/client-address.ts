/**
 * Which address a request came from, as far as it can be believed. Cloudflare's edge sets `CF-Connecting-IP`
 * from the connection and overwrites any the client sent, and `npm start`'s local edge does the same; but
 * `wrangler dev` on its own passes the client's header through, and X-Real-IP, X-Forwarded-For and the like
 * are always the client's to choose. So only `CF-Connecting-IP` is read, and only when TRUST_CF_CONNECTING_IP
 * says an edge set it.
 */
import type { Context } from 'hono';

/** The one throttle key of every request whose address cannot be believed: rotating headers cannot escape it. */
export const UNTRUSTED_ADDRESS = 'untrusted';

/** Whether this deployment's `CF-Connecting-IP` comes from an edge rather than from the client. */
export function trustsConnectingIp(env: { TRUST_CF_CONNECTING_IP?: string }): boolean {
  return env.TRUST_CF_CONNECTING_IP === 'true';
}

/** The client's address in canonical form, or null when it is not known (not trusted, absent or malformed). */
export function clientAddress(c: Context): string | null {
  if (!trustsConnectingIp(c.env)) return null;
  const parsed = parseAddress(c.req.header('cf-connecting-ip') ?? '');
  return parsed && formatAddress(parsed);
}

/**
 * What limits count against for an address: an IPv4 address itself, an IPv6 address's /64 (one subscriber's
 * network: whoever has one address there has 2^64 of them), or UNTRUSTED_ADDRESS.
 */
export function throttleKey(address: string | null): string {
  const parsed = address === null ? null : parseAddress(address);
  if (!parsed) return UNTRUSTED_ADDRESS;
  if (parsed.length === 4) return formatAddress(parsed);
  return `${formatAddress([...parsed.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** IPv4 as 4 octets, IPv6 as 8 groups; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4 address. */
type Address = number[];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const GROUP = /^[0-9a-f]{1,4}$/i;

export function parseAddress(text: string): Address | null {
  const value = text.trim();
  if (IPV4.test(value)) return value.split('.').map(Number);
  // A zone (`fe80::1%eth0`) names an interface of the server, not part of the client's address.
  const groups = parseIpv6(value.replace(/%[\w.-]+$/, ''));
  if (!groups) return null;
  const [, , , , , , high = 0, low = 0] = groups;
  const mapped = groups.slice(0, 6).join() === '0,0,0,0,0,65535';
  return mapped ? [high >> 8, high & 255, low >> 8, low & 255] : groups;
}

function parseIpv6(value: string): number[] | null {
  if (value.length > 45 || !value.includes(':')) return null;
  const halves = value.split('::');
  if (halves.length > 2) return null;
  const parts = halves.map((half) => (half === '' ? [] : half.split(':')));
  const last = parts.at(-1) ?? [];
  // The last 32 bits may be written as an IPv4 address.
  const tail = last.at(-1) ?? '';
  if (IPV4.test(tail)) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    last.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  if (!parts.every((part) => part.every((group) => GROUP.test(group)))) return null;
  const [head = [], rest = []] = parts;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...rest].map((g) =>
    Number.parseInt(g, 16),
  );
}

/** Dotted IPv4, or IPv6 as RFC 5952 writes it (lower case, the longest run of zero groups as `::`). */
export function formatAddress(address: Address): string {
  if (address.length === 4) return address.join('.');
  // A lone zero group stays `0`.
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    if (address[i] !== 0) continue;
    let end = i;
    while (end < 8 && address[end] === 0) end++;
    if (end - i > best.length) best = { at: i, length: end - i };
    i = end;
  }
  const hex = address.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}
