import type { Context } from 'koa';

/**
 * How long a refused request's body is still read (and dropped) after the reply: time for a client
 * sending at full speed to finish, so that it reads the reply rather than a reset.
 */
export const REFUSED_BODY_LINGER_MS = 2000;

/**
 * For a reply sent before the request's body was read (401, 413, 415, 429, …): says
 * `Connection: close`, then closes the connection once the client has sent the rest of its body,
 * or after `lingerMs`, whichever is first, rather than read, at the client's pace, a body nobody
 * wants.
 *
 * Node closes a `Connection: close` connection as soon as the reply is written; the body still
 * arriving then makes the kernel reset the connection, and a client still sending mostly sees
 * that reset (EPIPE, ECONNRESET) instead of the reply. So the close waits, bounded, as a lingering
 * close does: the bytes that arrive meanwhile are read and dropped (Node dumps an unread body).
 */
export function closeAfterReply(ctx: Context, lingerMs = REFUSED_BODY_LINGER_MS): void {
  ctx.set('Connection', 'close');
  const { req, res } = ctx;
  const socket = req.socket;
  // After Node's own 'finish' listener, which has asked the socket to destroy itself once written.
  res.once('finish', () => {
    socket.removeListener('finish', socket.destroy);
    const close = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(close, lingerMs);
    timer.unref();
    if (req.complete) close();
    else req.once('end', close);
    socket.once('close', () => clearTimeout(timer));
  });
}
