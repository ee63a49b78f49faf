// Ports for the peers a test starts (nginx, HAProxy, Prometheus, systemd-socket-activate).

import net from 'node:net';

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Wait until 127.0.0.1:`port` accepts; `failure()` says why to give up (the peer exited), else null. */
export async function waitForPort(port: number, failure: () => string | null, tries = 100): Promise<void> {
  for (let i = 0; ; i++) {
    const why = failure();
    if (why !== null) throw new Error(why);
    if (i === tries) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
