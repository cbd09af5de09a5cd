/**
 * Node flags the proxy runs with (the bin's shebang and `npm run ssh-proxy` spell them out; launchers of the
 * CLI — the benchmark, the end-to-end test — pass these). `--single-threaded-gc`: bulk output makes V8 run a
 * full collection every ~50 ms (ssh2's packet buffers live outside the heap and trigger them), and its
 * concurrent marking on helper threads costs more CPU than marking on the main thread does. Measured with
 * `bench/ssh-proxy.ts` (docs/ssh-proxy.md), alternating runs with ssh2's native crypto: recorded `cat` at
 * 8.5–9.2 ms of CPU per MB with the flag (helper threads 0.5–1.3) against 9.6–9.7 without (2.4–3.6), the
 * throughput the same within the noise (99–101 against 106–108 MB/s); with the JavaScript crypto fallback the
 * flag also raised it (91–97 against 81–84 MB/s). A proxy serving many sessions is bound by its CPU.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
