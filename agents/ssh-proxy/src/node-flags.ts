/**
 * Node flags the proxy runs with (the bin's shebang and `npm run ssh-proxy` spell them out; launchers of the
 * CLI — the benchmark, the end-to-end test — pass these). `--single-threaded-gc`: bulk output makes V8 run a
 * full collection every ~50 ms (ssh2's packet buffers live outside the heap and trigger them), and its
 * concurrent marking on helper threads cost ~3 ms of CPU per MB relayed, more than marking on the main thread
 * does: measured with `bench/ssh-proxy.ts`, recorded `cat` 91–97 MB/s at 7.1–7.7 ms/MB with the flag against
 * 81–84 MB/s at 9.8–10.3 ms/MB without, and the keystroke echo no slower (docs/ssh-proxy.md).
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
