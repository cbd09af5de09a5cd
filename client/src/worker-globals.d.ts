// The console type-checks the Worker's routes (for `hc<AppType>` in api.ts) beside the DOM's types, where the
// DOM's Crypto and SubtleCrypto win over the Workers' and lack these Workers additions the routes use. The
// console itself never calls them.
interface Crypto {
  DigestStream: typeof DigestStream;
}
interface SubtleCrypto {
  timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
}
