import type { Stats } from '@aggregator/api';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { withBrowser } from './support/browser.js';
import { withProcessStack } from './support/processStack.js';
import { requireTool } from './support/requireTool.js';
import { CHROMIUM, REDIS_SERVER } from './support/tools.js';
import { waitUntil } from './support/waitUntil.js';
import { makeEvent } from './support/withStack.js';

/** The raw numbers the page shows (its `data-value` attributes). */
async function shown(page: Page, ids: readonly string[]): Promise<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const id of ids) {
    const raw = await page.getAttribute(`[data-testid="${id}"]`, 'data-value');
    values[id] = raw === null ? Number.NaN : Number(raw);
  }
  return values;
}

function expected(stats: Stats): Record<string, number> {
  return {
    received: stats.received,
    unique_processed: stats.unique_processed,
    duplicate_dropped: stats.duplicate_dropped,
    topics: stats.topic_count,
    workers: stats.workers,
    queue_waiting: stats.queue.waiting,
    queue_failed: stats.queue.failed,
  };
}

/** Waits until the page shows exactly what /stats reports. */
async function waitForPageToShow(page: Page, stats: Stats): Promise<void> {
  const want = expected(stats);
  let last: Record<string, number> = {};
  await waitUntil(
    async () => {
      last = await shown(page, Object.keys(want));
      return JSON.stringify(last) === JSON.stringify(want);
    },
    { what: `the page to show ${JSON.stringify(want)}`, timeoutMs: 15_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last shown ${JSON.stringify(last)}`);
  });
}

/**
 * A new page that records page errors and console errors or warnings. The browser itself logs a
 * failed request; those of `/stats` (or of the `/events` page the live tail checks a pattern with)
 * with a status in `tolerated` are expected while a test makes them fail on purpose.
 */
async function openPage(browser: Browser) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1100 } });
  const problems: string[] = [];
  const tolerated = new Set<number>();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const status = /status of (\d{3})/.exec(message.text())?.[1];
    const path = new URL(message.location().url || 'http://x/').pathname;
    if (status && tolerated.has(Number(status)) && ['/stats', '/events'].includes(path)) return;
    problems.push(`console ${message.type()}: ${message.text()}`);
  });
  return { page, problems, tolerated };
}

describe('status page (GET /)', () => {
  before(requireTool(REDIS_SERVER, CHROMIUM));
  it('shows the live counters, the rate and an outage banner in a real browser', async function () {
    this.timeout(120_000);
    await withProcessStack({}, async (stack) =>
      withBrowser(async (browser) => {
        const duplicate = makeEvent({ topic: 'payments' });
        const first = [makeEvent(), makeEvent(), duplicate, duplicate, makeEvent({ topic: '<b>not html</b>' })];
        expect((await stack.publish(first)).status).to.equal(200);
        const settled = await stack.settle(first.length);
        expect(settled).to.include({ received: 5, unique_processed: 4, duplicate_dropped: 1 });

        const { page, problems, tolerated } = await openPage(browser);
        const res = await page.goto(`${stack.apiUrl}/`);
        expect(res?.status()).to.equal(200);
        const headers = res?.headers() ?? {};
        expect(headers['cache-control']).to.equal('no-store');
        const csp = headers['content-security-policy'] ?? '';
        expect(csp).to.include("default-src 'none'").and.include("connect-src 'self'");
        expect(csp).to.match(/script-src 'nonce-[A-Za-z0-9+/=]{20,}'/);
        expect(csp, 'no remote or unsafe sources').to.not.match(/https?:|\*|unsafe-inline|unsafe-eval/);

        await waitForPageToShow(page, settled);
        expect(await page.textContent('[data-testid="duplicate_rate"]')).to.equal('20.0%');
        expect(await page.locator('[data-testid="topic_list"] li').allTextContents()).to.have.members(settled.topics);

        // New events while the page is open: it follows, and the chart shows a rate above zero.
        const more = Array.from({ length: 40 }, () => makeEvent());
        expect((await stack.publish([...more, ...more.slice(0, 1)])).status).to.equal(200);
        const later = await stack.settle(first.length + more.length + 1);
        await waitForPageToShow(page, later);
        await waitUntil(async () => ((await shown(page, ['rate_peak'])).rate_peak ?? 0) > 0, {
          what: 'a rate above 0',
        });
        const chartPoints = async () =>
          ((await page.getAttribute('[data-testid="chart_line"]', 'points')) ?? '').trim().split(/\s+/).length;
        await waitUntil(async () => (await chartPoints()) >= 3, { what: 'a chart line of 3 points' });
        await page.screenshot({ path: '/tmp/status-page.png', fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: '/tmp/status-page-phone.png', fullPage: true });

        // Redis down: /stats answers 503 and the page says so; Redis back: the banner goes away.
        expect(await page.isHidden('[data-testid="banner"]')).to.equal(true);
        tolerated.add(503);
        await stack.redis.kill();
        await page.waitForSelector('[data-testid="banner"]', { state: 'visible', timeout: 15_000 });
        expect(await page.textContent('[data-testid="banner"]')).to.match(/503 redis_unavailable/);
        await page.screenshot({ path: '/tmp/status-page-outage.png' });
        await stack.restartRedis();
        await page.waitForSelector('[data-testid="banner"]', { state: 'hidden', timeout: 30_000 });
        tolerated.clear();
        await waitForPageToShow(page, await stack.settle(later.received));

        expect(problems).to.deep.equal([]);
      }),
    );
  });

  it('lists the first 50 topics from /topics and counts the rest, never reading them all', async function () {
    this.timeout(120_000);
    await withProcessStack({}, async (stack) =>
      withBrowser(async (browser) => {
        const topics = Array.from({ length: 60 }, (_, i) => `t-${String(i).padStart(2, '0')}`);
        expect((await stack.publish(topics.map((topic) => makeEvent({ topic })))).status).to.equal(200);
        const settled = await stack.settle(topics.length);
        const { page, problems } = await openPage(browser);
        const requested: string[] = [];
        page.on('request', (request) =>
          requested.push(new URL(request.url()).pathname + new URL(request.url()).search),
        );
        await page.goto(`${stack.apiUrl}/`);
        await waitForPageToShow(page, settled);
        await waitUntil(async () => (await page.locator('[data-testid="topic_list"] li').count()) === 50, {
          what: '50 topics listed',
        });
        expect(await page.locator('[data-testid="topic_list"] li').allTextContents()).to.deep.equal(
          topics.slice(0, 50),
        );
        expect(await page.textContent('#topic_more')).to.equal('… and 10 more');
        expect(requested).to.include('/topics?limit=50');
        expect(problems).to.deep.equal([]);
      }),
    );
  });

  it('follows a live tail of the events matching a topic pattern, over a real EventSource', async function () {
    this.timeout(120_000);
    const token = 'read-token-'.padEnd(24, 'y');
    await withProcessStack({ env: { READ_TOKEN: token } }, async (stack) =>
      withBrowser(async (browser) => {
        const before = [makeEvent({ topic: 'eu.orders.error' }), makeEvent({ topic: 'eu.orders.created' })];
        expect((await stack.publish(before, undefined)).status).to.equal(200);
        const { page, problems, tolerated } = await openPage(browser);
        tolerated.add(401);
        await page.goto(`${stack.apiUrl}/`);
        await page.fill('[data-testid="token"]', token);
        await page.press('[data-testid="token"]', 'Enter');
        await page.waitForSelector('[data-testid="auth"]', { state: 'hidden', timeout: 15_000 });
        await waitUntil(async () => (await shown(page, ['unique_processed'])).unique_processed === 2, {
          what: 'the page to know of the first two events',
        });

        // A pattern the API refuses: its message, not a silent failure.
        await page.fill('[data-testid="tail_pattern"]', 'eu.orders*');
        tolerated.add(400);
        await page.press('[data-testid="tail_pattern"]', 'Enter');
        await waitUntil(
          async () => /^400: .*wildcard/.test((await page.textContent('[data-testid="tail_state"]')) ?? ''),
          {
            what: 'the tail to show why the pattern was refused',
          },
        );

        await page.fill('[data-testid="tail_pattern"]', 'eu.*.error');
        await page.press('[data-testid="tail_pattern"]', 'Enter');
        await waitUntil(async () => /^live/.test((await page.textContent('[data-testid="tail_state"]')) ?? ''), {
          what: 'the tail to be live',
        });
        // Published while the page is open: only the matching ones appear, newest first; the events
        // stored before the page followed do not. The last one is published after the others are
        // stored, so once it is shown, anything that should not have been would be shown too.
        const matching = [makeEvent({ topic: 'eu.payments.error' }), makeEvent({ topic: 'eu.orders.error' })];
        const others = [makeEvent({ topic: 'eu.orders.created' }), makeEvent({ topic: 'eu.a.b.error' })];
        expect((await stack.publish([matching[0], ...others])).status).to.equal(200);
        const rows = () => page.locator('[data-testid="tail_list"] li .id').allTextContents();
        await waitUntil(async () => (await rows()).length === 1, {
          what: 'the first event on the tail',
          timeoutMs: 15_000,
        });
        await waitUntil(async () => {
          const res = await fetch(`${stack.apiUrl}/stats`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as Stats;
          return body.received === 5 && body.queue.waiting + body.queue.active === 0;
        });
        expect((await stack.publish([matching[1]])).status).to.equal(200);
        await waitUntil(async () => (await rows()).length >= 2, {
          what: 'the last event on the tail',
          timeoutMs: 15_000,
        });
        expect(await rows()).to.deep.equal([matching[1]?.event_id, matching[0]?.event_id]);
        const seqs = await page
          .locator('[data-testid="tail_list"] li')
          .evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-seq'))));
        expect(seqs[0]).to.be.greaterThan(seqs[1] ?? Number.POSITIVE_INFINITY);
        await page.screenshot({ path: '/tmp/status-page-tail.png', fullPage: true });

        await page.click('[data-testid="tail_stop"]');
        expect(await page.textContent('[data-testid="tail_state"]')).to.equal('stopped');
        expect(problems).to.deep.equal([]);
      }),
    );
  });

  it('asks for the read token when /stats needs one, then shows the counters', async function () {
    this.timeout(120_000);
    const token = 'read-token-'.padEnd(24, 'x');
    await withProcessStack({ env: { READ_TOKEN: token } }, async (stack) =>
      withBrowser(async (browser) => {
        expect((await stack.publish([makeEvent(), makeEvent()])).status).to.equal(200);
        const stats = await waitUntil(async () => {
          const res = await fetch(`${stack.apiUrl}/stats`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as Stats;
          return body.received === 2 && body.queue.waiting + body.queue.active === 0 && body;
        });

        const { page, problems, tolerated } = await openPage(browser);
        tolerated.add(401);
        await page.goto(`${stack.apiUrl}/`);
        await page.waitForSelector('[data-testid="auth"]', { state: 'visible', timeout: 15_000 });
        expect(await page.textContent('[data-testid="banner"]')).to.match(/401 unauthorized/);
        await page.fill('[data-testid="token"]', token);
        await page.press('[data-testid="token"]', 'Enter');
        await page.waitForSelector('[data-testid="auth"]', { state: 'hidden', timeout: 15_000 });
        await waitForPageToShow(page, stats);
        expect(await page.isHidden('[data-testid="banner"]')).to.equal(true);
        expect(problems).to.deep.equal([]);
      }),
    );
  });
});
