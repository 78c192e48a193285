import type { Middleware } from 'koa';
import { CrossSiteRequestError } from '../http/appErrors.js';
import { tokenMatches } from '../http/bearerAuth.js';
import { crossSiteRequest } from '../http/crossSiteRequest.js';
import { errorEnvelope } from '../http/errorEnvelope.js';
import type { PartitionQueue } from '../publishing/partitionQueues.js';

export const ADMIN_PATH = '/admin/queues';

/**
 * The queue UI (bull-board) at `/admin/queues`, one entry per partition, for inspecting and retrying failed jobs. Behind
 * `ADMIN_TOKEN`: as a Bearer token, or as the password of HTTP Basic auth so a browser can ask for
 * it (any user name). A browser sends Basic credentials with whatever page makes the request, so a
 * request that changes something (retry, clean, add a job) is taken only from the UI's own origin
 * (`crossSiteRequest`); others get `403 cross_site_request` before bull-board sees them.
 */
export function adminRoutes(queues: readonly PartitionQueue[], token: string): Middleware {
  let board: Promise<Middleware> | undefined;
  return async (ctx, next) => {
    if (ctx.path !== ADMIN_PATH && !ctx.path.startsWith(`${ADMIN_PATH}/`)) return next();
    if (!isAdmin(ctx.get('Authorization'), token)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Basic realm="aggregator admin", charset="UTF-8"');
      ctx.body = errorEnvelope('unauthorized', 'the queue UI needs ADMIN_TOKEN (Bearer, or Basic password)');
      return;
    }
    const crossSite = crossSiteRequest({
      method: ctx.method,
      secFetchSite: ctx.get('Sec-Fetch-Site'),
      origin: ctx.get('Origin'),
      host: ctx.host,
    });
    if (crossSite) throw new CrossSiteRequestError(crossSite);
    board ??= loadBoard(queues);
    return (await board)(ctx, next);
  };
}

// bull-board and its view engine weigh about 20 MB; replicas load them on the first admin request.
async function loadBoard(queues: readonly PartitionQueue[]): Promise<Middleware> {
  const [{ createBullBoard }, { BullMQAdapter }, { KoaAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/koa'),
  ]);
  const serverAdapter = new KoaAdapter();
  serverAdapter.setBasePath(ADMIN_PATH);
  // Every partition's queue is called "events"; with several, the board tells them apart as p0, p1, ….
  const adapters = queues.map(({ partition, queue }) =>
    queues.length > 1 ? new BullMQAdapter(queue, { prefix: `p${partition}-` }) : new BullMQAdapter(queue),
  );
  createBullBoard({ queues: adapters, serverAdapter });
  return serverAdapter.registerPlugin();
}

function isAdmin(header: string, token: string): boolean {
  const bearer = /^Bearer (.+)$/i.exec(header)?.[1];
  if (bearer) return tokenMatches(bearer, token);
  const basic = /^Basic (.+)$/i.exec(header)?.[1];
  if (!basic) return false;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return tokenMatches(password, token);
}
