/**
 * The device connections a proxy holds: every raw socket it accepted, and for a decrypted connection the TLS
 * socket layered on it. Exchanges, ids, in-flight counts and error messages all refer to the raw socket, so a
 * connection is one thing whichever layer an event comes from.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Connection } from './forward.js';

export class DeviceConnections {
  readonly sockets = new Set<net.Socket>();
  private readonly rawOf = new WeakMap<object, net.Socket>();
  private readonly ids = new WeakMap<object, string>();
  private seq = 0;

  /** A raw socket accepted; `onClose` runs once it has gone. */
  add(socket: net.Socket, onClose: () => void): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      onClose();
    });
  }

  /** `layer` (a TLS socket) runs on the connection `under` belongs to. */
  link(layer: object, under: object): void {
    this.rawOf.set(layer, this.raw(under));
  }

  raw(s: object): net.Socket {
    return this.rawOf.get(s) ?? (s as net.Socket);
  }

  /** The id exchanges carry and the key in-flight counts use. */
  of(s: object): Connection {
    const key = this.raw(s);
    let id = this.ids.get(key);
    if (!id) this.ids.set(key, (id = `c${++this.seq}`));
    return { id, key };
  }

  /** How a connection is named in error messages: the device's address and port. */
  who(s: Duplex): string {
    const raw = this.raw(s);
    return `${raw.remoteAddress ?? 'a device'}${raw.remotePort ? ` port ${raw.remotePort}` : ''}`;
  }

  get size(): number {
    return this.sockets.size;
  }
}
