/**
 * The listening socket and who gets past it. A client from an address the filter refuses is dropped before a byte
 * is read (one `client-refused` event per address, with a bounded memory of addresses); past --max-connections
 * Node closes new connections itself ('drop'), reported once per incident; during a stop nothing new is taken.
 * Admitted sockets are tracked in DeviceConnections and handed on.
 */
import net from 'node:net';
import type { ClientFilter } from './client-filter.js';
import type { DeviceConnections } from './connections.js';
import { SetupError, type ProxyError } from './errors.js';
import { Incident } from './incident.js';

/** Public clients refused are reported once per address; the memory of addresses is bounded. */
const REFUSED_MEMORY = 1024;

export function admittingListener(o: {
  filter: ClientFilter;
  maxConnections: number;
  connections: DeviceConnections;
  accepting(): boolean;
  onError(e: ProxyError): void;
  onConnection(socket: net.Socket): void;
}): net.Server {
  const refused = new Set<string>();
  const refuse = (socket: net.Socket) => {
    const addr = socket.remoteAddress ?? 'unknown';
    if (!refused.has(addr)) {
      if (refused.size >= REFUSED_MEMORY) refused.clear();
      refused.add(addr);
      o.onError({ kind: 'client-refused', message: `a client from ${addr} was refused: it is a public address (allow it with --allow-client ${addr})` });
    }
    socket.destroy();
  };
  const atLimit = new Incident(() =>
    o.onError({ kind: 'connection-limit', message: `${o.maxConnections} device connections open (--max-connections): new connections are closed on arrival until some end` }),
  );
  // No Nagle: an MDM exchange is request/response, and a body's last segment held back for an ACK that the other
  // side delays is 40 ms added to the exchange. TCP keep-alive finds devices that vanished without a word.
  const listener = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (socket) => {
    if (!o.filter.admits(socket.remoteAddress)) return refuse(socket);
    if (!o.accepting()) return void socket.destroy();
    o.connections.add(socket, () => {
      // Hysteresis, so that a count hovering at the limit is one incident, not one per connection.
      if (atLimit.ongoing && o.connections.size <= Math.floor(o.maxConnections * 0.9)) atLimit.end();
    });
    socket.on('error', () => socket.destroy());
    o.onConnection(socket);
  });
  listener.maxConnections = o.maxConnections;
  listener.on('drop', () => atLimit.occur());
  return listener;
}

/** Listens, turning the usual failures into one clear sentence each. */
export function listenOn(listener: net.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onListenError = (e: NodeJS.ErrnoException) => {
      listener.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new SetupError(`port ${port} is already in use on ${host} (choose another with --port)`));
      else if (e.code === 'EACCES') reject(new SetupError(`not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new SetupError(`${host} is not an address of this machine`));
      else reject(new SetupError(`cannot listen on ${host}:${port}: ${e.message}`));
    };
    const onListening = () => {
      listener.off('error', onListenError);
      resolve();
    };
    listener.once('error', onListenError);
    listener.once('listening', onListening);
    listener.listen(port, host);
  });
}
