import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Middleware } from 'koa';

/**
 * The page's script and styles are real files beside this one: `browser/statusPageScript.ts`
 * (compiled by its own DOM-only tsc project into the API's dist/) and `statusPage.css`. Both are
 * read once, when the route is made, by their place in the package, which is the same from
 * src/ (tsx) and from dist/ (node), and inlined under the response's nonce as before.
 */
const PACKAGE_ROOT = new URL('../../../', import.meta.url);

/** The files the page is made of, relative to the API package (the Docker image ships each). */
export const STATUS_PAGE_ASSETS = {
  script: 'dist/operations/statusPage/browser/statusPageScript.js',
  style: 'src/operations/statusPage/statusPage.css',
} as const;

function readAsset(path: string): string {
  try {
    return readFileSync(new URL(path, PACKAGE_ROOT), 'utf8');
  } catch (e) {
    throw new Error(`the status page needs api/${path}: run \`npm run build\``, { cause: e });
  }
}

function card(id: string, label: string): string {
  return `<div class="card"><div class="label">${label}</div><div class="value" id="${id}" data-testid="${id}">–</div></div>`;
}

function renderPage(nonce: string, assets: { script: string; style: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aggregator</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${assets.style}</style>
</head>
<body>
<main>
<header>
  <h1>aggregator</h1>
  <span class="muted"><span id="dot" class="dot"></span><span id="updated" data-testid="updated">connecting…</span></span>
</header>
<div id="banner" role="alert" data-testid="banner" hidden><span id="banner_text"></span></div>
<form id="auth" class="auth" data-testid="auth" hidden>
  <label for="token">This service wants its read token (READ_TOKEN) for /stats. It stays in this tab only.</label>
  <span><input id="token" data-testid="token" type="password" autocomplete="off" required>
  <button type="submit">Use token</button></span>
</form>
<div class="grid">
  ${card('received', 'received')}
  ${card('unique_processed', 'unique processed')}
  ${card('duplicate_dropped', 'duplicates dropped')}
  ${card('duplicate_rate', 'duplicate rate')}
  ${card('rate', 'events / s')}
</div>
<section>
  <div class="chart-head"><h2>events per second</h2>
    <span class="muted">peak <span id="rate_peak" data-testid="rate_peak">–</span> /s</span></div>
  <div class="chart-box">
    <span id="chart_top"></span>
    <svg id="chart" role="img" aria-label="events per second over the last 5 minutes" viewBox="0 0 300 100"
      preserveAspectRatio="none">
      <line class="grid-line" x1="0" y1="4" x2="300" y2="4" vector-effect="non-scaling-stroke"/>
      <line class="grid-line" x1="0" y1="52" x2="300" y2="52" vector-effect="non-scaling-stroke"/>
      <line class="grid-line" x1="0" y1="100" x2="300" y2="100" vector-effect="non-scaling-stroke"/>
      <path id="chart_area" class="area" d=""/>
      <polyline id="chart_line" data-testid="chart_line" class="line" points="" vector-effect="non-scaling-stroke"/>
    </svg>
  </div>
  <div class="axis"><span id="chart_span">1 min ago</span><span>now</span></div>
</section>
<section>
  <h2>queue (jobs)</h2>
  <dl class="queue">
    <div><dt>waiting</dt><dd id="queue_waiting" data-testid="queue_waiting">–</dd></div>
    <div><dt>active</dt><dd id="queue_active" data-testid="queue_active">–</dd></div>
    <div><dt>delayed</dt><dd id="queue_delayed" data-testid="queue_delayed">–</dd></div>
    <div><dt>failed</dt><dd id="queue_failed" data-testid="queue_failed">–</dd></div>
  </dl>
  <table id="partitions" class="partitions" data-testid="partitions" hidden>
    <thead><tr><th>partition</th><th>waiting</th><th>active</th><th>delayed</th><th>failed</th></tr></thead>
    <tbody id="partition_rows"></tbody>
  </table>
</section>
<div class="grid">
  ${card('workers', 'live workers')}
  ${card('topics', 'topics')}
  ${card('uptime', 'uptime')}
</div>
<section>
  <h2>topics</h2>
  <ul id="topic_list" data-testid="topic_list"></ul>
  <div id="topic_more" class="muted"></div>
</section>
<section>
  <div class="chart-head"><h2>live tail</h2><span id="tail_state" class="muted" data-testid="tail_state">stopped</span></div>
  <form id="tail_form" class="tail" data-testid="tail_form">
    <input id="tail_pattern" data-testid="tail_pattern" aria-label="topic pattern" autocomplete="off"
      placeholder="topic pattern: eu.*.error, eu.> (empty: every topic)">
    <button type="submit">Follow</button><button type="button" id="tail_stop" data-testid="tail_stop" disabled>Stop</button>
  </form>
  <div id="tail_empty" class="muted" hidden></div>
  <ol id="tail_list" class="tail" data-testid="tail_list"></ol>
</section>
<footer><a href="stats">/stats</a> · <a href="openapi.json">/openapi.json</a> · <a href="metrics">/metrics</a> ·
  <a href="readyz">/readyz</a></footer>
</main>
<script nonce="${nonce}">${assets.script}</script>
</body>
</html>`;
}

/**
 * `GET /`: a self-contained status page for people (no external assets). The inline style and
 * script run under a fresh nonce per response; the policy allows nothing else but fetching this
 * origin.
 */
export function statusPageRoute(): Middleware {
  const assets = { script: readAsset(STATUS_PAGE_ASSETS.script), style: readAsset(STATUS_PAGE_ASSETS.style) };
  return (ctx) => {
    const nonce = randomBytes(16).toString('base64');
    ctx.set({
      'Content-Security-Policy': [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        `style-src 'nonce-${nonce}'`,
        "connect-src 'self'",
        'img-src data:',
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderPage(nonce, assets);
  };
}
