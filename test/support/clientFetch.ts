import type { InProcessStack } from './withStack.js';

/**
 * A fetch for `new Client({ fetch })` answered by an in-process stack's Koa callback (no port): the
 * client then talks to the real routes. Not for streams, whose reply never ends.
 */
export function fetchThrough(stack: InProcessStack): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const res = await stack.request({
      method: (init?.method ?? 'GET') as 'GET' | 'POST',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      payload: typeof init?.body === 'string' ? init.body : undefined,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers.set(name, String(value));
    }
    return new Response(res.statusCode === 204 ? null : res.rawPayload, { status: res.statusCode, headers });
  };
}
