/** The proxy's SSH server: accepts connections, hands each to a ProxiedConnection, and shuts down cleanly. */
import type { AddressInfo } from 'node:net';
import ssh2, { type Connection, type Server } from 'ssh2';
import type { Logger } from '../../launcher/src/log.ts';
import { type ProxyConfig, readHostKey } from './config.ts';
import { ProxiedConnection, type ProxyContext } from './connection.ts';
import type { SessionRecording } from './recording.ts';

export interface ProxyServerOptions {
  config: ProxyConfig;
  log: Logger;
  version: string;
  heartbeatMs?: number;
  serverTimeoutMs?: number;
}

export class ProxyServer {
  readonly #server: Server;
  readonly #options: ProxyServerOptions;
  /** Recordings still uploading, by session id. */
  readonly finishing = new Map<string, Promise<void>>();
  readonly #connections = new Set<Connection>();

  constructor(options: ProxyServerOptions) {
    this.#options = options;
    const { config, log } = options;
    const context: ProxyContext = {
      config,
      log,
      version: options.version,
      heartbeatMs: options.heartbeatMs,
      serverTimeoutMs: options.serverTimeoutMs,
      track: (recording: SessionRecording, done: Promise<void>) => {
        this.finishing.set(recording.session, done);
        void done.finally(() => this.finishing.delete(recording.session));
      },
    };
    this.#server = new ssh2.Server(
      {
        hostKeys: [readHostKey(config)],
        ident: `witness-ssh-proxy_${options.version}`,
        // Clients (OpenSSH: chacha20-poly1305 first) pick their first cipher the proxy offers.
        algorithms: { cipher: config.ciphers },
        ...(config.banner ? { banner: config.banner } : {}),
      },
      (client, info) => {
        this.#connections.add(client);
        client.on('close', () => this.#connections.delete(client));
        new ProxiedConnection(client, { address: info.ip, port: info.port }, context);
      },
    );
    this.#server.on('error', (error: Error) => log.error(`server: ${error.message}`));
  }

  /** Listens; resolves with the port. */
  listen(port = this.#options.config.listen.port, host = this.#options.config.listen.host): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting, closes every connection, and waits for their recordings' uploads. */
  async close(): Promise<void> {
    // The listener's close completes only once every connection is gone: end them first.
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const client of this.#connections) client.end();
    await closed;
    // Connections' close handlers start their recordings' finish on the next turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all(this.finishing.values());
  }

  /** Resolves when every recording finished so far has uploaded and ended. */
  async drained(): Promise<void> {
    while (this.finishing.size > 0) await Promise.all(this.finishing.values());
  }
}
