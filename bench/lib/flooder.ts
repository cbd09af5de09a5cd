/**
 * The flooding clients of bench/socket-flood.ts, in a worker thread of their own: a live viewer and a launcher
 * control socket on one session, each sending frames as fast as its connection takes them and reconnecting when
 * the server closes it. Told `stop`, it stops them and posts a FloodReport.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

export interface FloodOrders {
  wsBase: string;
  apiKey: string;
  sessionId: string;
  token: string;
  /** The launcher's hello, sent first on each of its connections. */
  hello: string;
  reconnect: boolean;
  /** Frames each connection sends, then waits to be closed; 0 for no limit. */
  burst: number;
  /** A flooder stops queueing frames while this much is still unsent (the connection's own pace). */
  highWaterBytes: number;
}

export interface FloodStats {
  framesSent: number;
  bytesSent: number;
  connections: number;
  /** Upgrades refused (status) or failed before opening. */
  refused: number;
  /** Close codes seen, with how many times each. */
  closes: Array<[number, number]>;
  framesReceived: number;
}

export interface FloodReport {
  viewer: FloodStats;
  launcher: FloodStats;
}

/**
 * One flooding client: opens its socket, sends `frame` as fast as the connection drains, and when the server
 * closes it, opens the next (if `reconnect`). `stop` ends it.
 */
function flooder(orders: FloodOrders, open: () => WebSocket, frame: string, first: string | null) {
  const stats: FloodStats = { framesSent: 0, bytesSent: 0, connections: 0, refused: 0, closes: [], framesReceived: 0 };
  const closes = new Map<number, number>();
  let stopped = false;
  let current: WebSocket | null = null;
  const connect = () => {
    if (stopped) return;
    const ws = open();
    current = ws;
    let opened = false;
    let sentHere = 0;
    // Sends until the connection's buffer is full, then waits for that last frame to be written out: as fast as
    // the connection takes frames, without spinning (on a 2-core machine a spinning client would take a core
    // from the server, which is not what is measured).
    const pump = () => {
      while (!stopped && ws.readyState === WebSocket.OPEN) {
        if (orders.burst > 0 && sentHere >= orders.burst) return; // this connection's burst is out: wait for the close
        sentHere++;
        stats.framesSent++;
        stats.bytesSent += frame.length;
        if (ws.bufferedAmount >= orders.highWaterBytes) return ws.send(frame, () => setImmediate(pump));
        ws.send(frame);
      }
    };
    ws.on('open', () => {
      opened = true;
      stats.connections++;
      if (first) ws.send(first);
      pump();
    });
    ws.on('message', () => stats.framesReceived++);
    ws.on('unexpected-response', (_req, res) => {
      stats.refused++;
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (opened) closes.set(code, (closes.get(code) ?? 0) + 1);
      if (!orders.reconnect || stopped) return;
      // A refused upgrade is retried after a moment, so a refusal cannot turn into a busy loop here.
      if (opened) connect();
      else setTimeout(connect, 50);
    });
  };
  connect();
  return {
    stop: (): FloodStats => {
      stopped = true;
      current?.terminate();
      return { ...stats, closes: [...closes] };
    },
  };
}

if (parentPort) {
  const orders = workerData as FloodOrders;
  const viewer = flooder(
    orders,
    () =>
      new WebSocket(`${orders.wsBase}/api/v1/sessions/${orders.sessionId}/live`, {
        headers: { authorization: `Bearer ${orders.apiKey}` },
      }),
    'x',
    null,
  );
  const launcher = flooder(
    orders,
    () =>
      new WebSocket(`${orders.wsBase}/ingest/v1/sessions/${orders.sessionId}/control`, {
        headers: { authorization: `Bearer ${orders.token}` },
      }),
    JSON.stringify({ type: 'activity' }),
    orders.hello,
  );
  parentPort.once('message', () => {
    parentPort?.postMessage({ viewer: viewer.stop(), launcher: launcher.stop() } satisfies FloodReport);
  });
}
