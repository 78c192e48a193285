import { createServer, type Server, type Socket } from 'node:net';

export interface ForwardingServer {
  readonly server: Server;
  /** Stops listening and cuts the connections in progress. */
  close(): Promise<void>;
}

/**
 * A server (not yet listening) that pipes every connection it accepts, both ways, to a new one
 * that `connect` opens; when either side goes, so does the other. How a published port reaches
 * a container: here, between a TCP port on the host and a Unix socket, and between that socket
 * and a port inside a network namespace.
 */
export function forwardingServer(connect: () => Socket): ForwardingServer {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A peer that goes away is the other side's business; the pipe just ends.
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect();
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
