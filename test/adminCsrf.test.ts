import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { withBrowser } from './support/browser.js';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { CHROMIUM, REDIS_SERVER } from './support/tools.js';
import { makeEvent } from './support/withStack.js';

const ADMIN_TOKEN = 'admin-secret-0123456789';

/** A page on another site, served from `localhost` while the API is on `127.0.0.1`. */
async function withPage<T>(html: string, fn: (url: string) => Promise<T>): Promise<T> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await fn(`http://localhost:${(server.address() as AddressInfo).port}/`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** The first queue of the board, with its job counts, as the queue UI's own API reports it. */
async function firstQueue(apiUrl: string): Promise<{ name: string; jobs: number }> {
  const res = await fetch(`${apiUrl}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const body = (await res.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> };
  const queue = body.queues[0];
  if (!queue) throw new Error(`no queue on the board: ${JSON.stringify(body)}`);
  return { name: queue.name, jobs: Object.values(queue.counts).reduce((a, b) => a + b, 0) };
}

const attribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

describe('queue UI against cross-site request forgery', () => {
  before(requireTool(REDIS_SERVER, CHROMIUM));

  it("refuses a job added by another site's auto-submitted form in a signed-in browser, not its own pages", async function () {
    this.timeout(120_000);
    await withProcessStack({ workers: 0, env: { ADMIN_TOKEN } }, async (stack) =>
      withBrowser(async (browser) => {
        const { name } = await firstQueue(stack.apiUrl);
        const addUrl = `${stack.apiUrl}/admin/queues/api/queues/${encodeURIComponent(name)}/add`;
        // The operator is signed in to the queue UI (the browser answers its Basic challenge).
        const context = await browser.newContext({ httpCredentials: { username: 'admin', password: ADMIN_TOKEN } });
        const page = await context.newPage();
        expect((await page.goto(`${stack.apiUrl}/admin/queues`))?.status()).to.equal(200);

        // A valid event, nested by the form parser (`data[events][0][topic]`): it would be stored.
        const event = makeEvent();
        const fields: Record<string, string> = { name: 'batch' };
        for (const [key, value] of Object.entries(event)) {
          if (typeof value === 'string') fields[`data[events][0][${key}]`] = value;
        }
        const inputs = Object.entries(fields)
          .map(([k, v]) => `<input type="hidden" name="${attribute(k)}" value="${attribute(v)}">`)
          .join('');
        const html = `<!doctype html><form method="POST" action="${attribute(addUrl)}">${inputs}</form><script>document.forms[0].submit()</script>`;
        await withPage(html, async (evilUrl) => {
          const answered = page.waitForResponse((res) => res.url() === addUrl);
          await page.goto(evilUrl);
          const res = await answered;
          expect(res.status(), await res.text()).to.equal(403);
          expect((await res.json()).error.code).to.equal('cross_site_request');
        });
        expect((await firstQueue(stack.apiUrl)).jobs, 'no job got in').to.equal(0);

        // The UI's own pages still change things: the same request from its origin is taken.
        await page.goto(`${stack.apiUrl}/admin/queues`);
        const job = JSON.stringify({ name: 'batch', data: { events: [makeEvent()], acceptedAt: Date.now() } });
        const status: number = await page.evaluate(
          async ([url, body]) =>
            (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status,
          [addUrl, job] as const,
        );
        expect(status).to.equal(200);
        expect((await firstQueue(stack.apiUrl)).jobs).to.equal(1);
        await context.close();
      }),
    );
  });
});
