/**
 * Stopping a simulated server at once. `server.close()` waits for every connection; http's closeAllConnections()
 * and HTTP/2's sessions only reach connections whose TLS handshake is done, so one still in its handshake when the
 * demo stops (a device or a server's push client connecting at that moment) kept the demo from exiting.
 */
import type net from 'node:net';

/** Tracks the server's connections from now on; the returned function closes it and ends every one of them. */
export function closeNow(server: net.Server): () => Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
}
