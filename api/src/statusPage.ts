import { randomBytes } from 'node:crypto';
import type { Middleware } from 'koa';

/**
 * The page polls `stats` (relative, so it also works behind a path prefix) every 2 s, the first
 * topics from `topics` when their count changes, and keeps 5
 * minutes of samples; events/s is the change of `received` between two samples. Its live tail
 * follows `events/stream`. Every value is written with textContent (topics and payloads are user
 * data).
 */
const SCRIPT = `'use strict';
const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const TIMEOUT_MS = 5000;
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US');
const rates = [];
let previous = null;
const TOKEN_KEY = 'aggregator.readToken';
let token = '';
try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch {}
let lastOk = 0;
let firstOk = 0;
let timer = 0;

function show(id, value, text) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text === undefined ? fmt.format(value) : text;
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (d > 0) return d + 'd ' + h + 'h';
  if (h > 0) return h + 'h ' + m + 'm';
  return m > 0 ? m + 'm ' + s + 's' : s + 's';
}

function rateText(rate) {
  return rate >= 100 ? fmt.format(Math.round(rate)) : rate.toFixed(1);
}

async function fetchStats() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch('stats', { cache: 'no-store', headers, signal: abort.signal });
    const body = await res.json().catch(() => null);
    if (!res.ok || body === null || typeof body.received !== 'number') {
      const error = body && body.error;
      const failure = new Error('/stats answered ' + res.status + (error ? ' ' + error.code + ': ' + error.message : ''));
      failure.status = res.status;
      throw failure;
    }
    return body;
  } catch (e) {
    if (e.name === 'AbortError') throw new Error('/stats did not answer within ' + TIMEOUT_MS / 1000 + ' s');
    if (e instanceof TypeError) throw new Error('cannot reach the API (' + e.message + ')');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function record(stats, now) {
  // A counter that went down (a rebuilt mirror) gives no rate for this interval.
  if (previous && stats.received >= previous.received && now > previous.t) {
    rates.push({ t: now, rate: ((stats.received - previous.received) * 1000) / (now - previous.t) });
  }
  previous = { t: now, received: stats.received };
  while (rates.length > 0 && rates[0].t < now - WINDOW_MS) rates.shift();
}

// One row per queue partition, only when there is more than one.
function renderPartitions(partitions) {
  $('partitions').hidden = partitions.length < 2;
  $('partition_rows').replaceChildren(...partitions.map((p) => {
    const row = document.createElement('tr');
    for (const value of [p.partition, p.waiting, p.active, p.delayed, p.failed]) {
      row.appendChild(Object.assign(document.createElement('td'), { textContent: fmt.format(value) }));
    }
    row.classList.toggle('bad', p.failed > 0);
    return row;
  }));
}

function render(stats) {
  latestSeq = stats.unique_processed;
  show('received', stats.received);
  show('unique_processed', stats.unique_processed);
  show('duplicate_dropped', stats.duplicate_dropped);
  const dupRate = stats.received > 0 ? (100 * stats.duplicate_dropped) / stats.received : 0;
  show('duplicate_rate', dupRate, stats.received > 0 ? dupRate.toFixed(1) + '%' : '–');
  show('topics', stats.topic_count);
  show('workers', stats.workers);
  $('workers').classList.toggle('bad', stats.workers === 0);
  show('uptime', stats.uptime_seconds, duration(stats.uptime_seconds));
  for (const state of ['waiting', 'active', 'delayed', 'failed']) show('queue_' + state, stats.queue[state]);
  $('queue_failed').classList.toggle('bad', stats.queue.failed > 0);
  renderPartitions(stats.partitions || []);
  const current = rates.length > 0 ? rates[rates.length - 1].rate : 0;
  show('rate', current, rateText(current));
  document.title = fmt.format(stats.received) + ' received · aggregator';
}

function niceCeiling(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function drawChart(now) {
  const peak = rates.reduce((max, r) => Math.max(max, r.rate), 0);
  const top = niceCeiling(Math.max(peak, 1));
  // The time axis grows from 1 minute to the full window, so a fresh page is not one sliver at the right.
  const span = Math.min(WINDOW_MS, Math.max(60_000, firstOk ? now - firstOk : 0));
  $('chart_span').textContent = Math.round(span / 60_000) + ' min ago';
  const points = rates.map((r) => {
    const x = (300 * (r.t - (now - span))) / span;
    return x.toFixed(1) + ',' + (100 - (96 * r.rate) / top).toFixed(1);
  });
  $('chart_line').setAttribute('points', points.join(' '));
  const first = points[0], last = points[points.length - 1];
  $('chart_area').setAttribute('d', points.length > 1 ? 'M' + first.split(',')[0] + ',100 L' + points.join(' L') + ' L' + last.split(',')[0] + ',100 Z' : '');
  $('chart_top').textContent = fmt.format(top) + ' /s';
  show('rate_peak', peak, rateText(peak));
  $('chart').setAttribute('aria-label', 'events per second over the last ' + $('chart_span').textContent + '; peak ' + rateText(peak));
}

function setHealth(ok, message) {
  $('banner').hidden = ok;
  $('banner_text').textContent = message || '';
  $('dot').className = 'dot ' + (ok ? 'ok' : 'bad');
  if (!ok) document.title = '⚠ ' + document.title.replace(/^⚠ /, '');
  const age = lastOk ? Math.round((Date.now() - lastOk) / 1000) : null;
  $('updated').textContent = age === null ? 'no data yet' : ok ? 'live · every 2 s' : 'last data ' + age + ' s ago';
}

// The first TOPICS_SHOWN topics come from GET /topics (stats carries only their count), read again
// only when the count changed: a new topic is the only thing that changes the list.
const TOPICS_SHOWN = 50;
let listedCount = -1;
async function refreshTopics(count) {
  if (count === listedCount) return;
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = 'Bearer ' + token;
  const res = await fetch('topics?limit=' + TOPICS_SHOWN, { cache: 'no-store', headers });
  const rows = await res.json().catch(() => null);
  if (!res.ok || !Array.isArray(rows)) return;
  $('topic_list').replaceChildren(...rows.map((row) => Object.assign(document.createElement('li'), { textContent: row.topic })));
  $('topic_more').textContent = count > rows.length ? '… and ' + fmt.format(count - rows.length) + ' more' : '';
  listedCount = count;
}

async function tick() {
  try {
    const stats = await fetchStats();
    const now = Date.now();
    record(stats, now);
    render(stats);
    await refreshTopics(stats.topic_count);
    lastOk = now;
    if (!firstOk) firstOk = now;
    setHealth(true);
    $('auth').hidden = true;
  } catch (e) {
    setHealth(false, e.message + ' — retrying every 2 s');
    $('auth').hidden = e.status !== 401;
  }
  drawChart(Date.now());
  // Clearing first keeps one loop even when a token submission started an extra tick.
  clearTimeout(timer);
  timer = setTimeout(tick, POLL_MS);
}

$('auth').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value.trim();
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch {}
  clearTimeout(timer);
  tick();
});

// The live tail: an EventSource on events/stream, from the newest event the counters knew of at
// the last poll (unique_processed is the last seq), filtered by the pattern box. The browser reconnects by itself
// after a drop, sending Last-Event-ID, so the tail resumes without gaps or repeats.
const TAIL_ROWS = 100;
let tail = null;
let latestSeq = null;
// Bumped by every Follow and Stop: a start still waiting on its check gives way to a later one.
let tailGeneration = 0;

function tailState(text, bad) {
  $('tail_state').textContent = text;
  $('tail_state').classList.toggle('bad', Boolean(bad));
}

function stopTail(text) {
  tailGeneration++;
  if (tail) tail.close();
  tail = null;
  $('tail_stop').disabled = true;
  tailState(text || 'stopped');
}

function showTailEvent(event) {
  const row = document.createElement('li');
  row.dataset.seq = String(event.seq);
  const cells = [['seq', '#' + event.seq], ['topic', event.topic], ['id', event.event_id], ['source', event.source],
    ['payload', JSON.stringify(event.payload)]];
  for (const [name, text] of cells) row.appendChild(Object.assign(document.createElement('span'), { className: name, textContent: text }));
  const list = $('tail_list');
  list.prepend(row);
  while (list.children.length > TAIL_ROWS) list.lastElementChild.remove();
  $('tail_empty').hidden = true;
}

async function startTail(pattern) {
  stopTail('connecting…');
  const generation = tailGeneration;
  if (latestSeq === null) {
    // Without the counters the tail would start from the first event ever stored.
    stopTail('waiting for /stats, to start from the newest event; press Follow again');
    return;
  }
  const params = new URLSearchParams();
  if (pattern) params.set('topic_pattern', pattern);
  // Asked once as a page of /events first: a bad pattern gets its 400 message shown here, where an
  // EventSource would only report that it failed.
  const check = await fetch('events?' + params + '&limit=1', { cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} })
    .catch((e) => ({ ok: false, status: 0, json: async () => ({ error: { message: e.message } }) }));
  if (generation !== tailGeneration) return;
  if (!check.ok) {
    const body = await check.json().catch(() => null);
    if (generation !== tailGeneration) return;
    stopTail((check.status ? check.status + ': ' : '') + (body && body.error ? body.error.message : 'cannot start the tail'));
    $('tail_state').classList.add('bad');
    return;
  }
  params.set('after', String(latestSeq));
  if (token) params.set('access_token', token);
  $('tail_list').replaceChildren();
  $('tail_empty').hidden = false;
  $('tail_empty').textContent = 'waiting for events' + (pattern ? ' matching ' + pattern : '') + '…';
  const source = new EventSource('events/stream?' + params);
  tail = source;
  $('tail_stop').disabled = false;
  source.onopen = () => tailState('live' + (pattern ? ' · ' + pattern : ' · every topic'));
  source.onmessage = (message) => showTailEvent(JSON.parse(message.data));
  source.onerror = () => {
    if (tail !== source) return;
    if (source.readyState === EventSource.CLOSED) stopTail('the stream was refused; press Follow to retry');
    else tailState('reconnecting…', true);
  };
}

$('tail_form').addEventListener('submit', (event) => {
  event.preventDefault();
  startTail($('tail_pattern').value.trim());
});
$('tail_stop').addEventListener('click', () => stopTail());

tick();
`;

const STYLE = `:root { color-scheme: light dark; --bg: #f5f6f8; --fg: #17202b; --muted: #5c6878; --card: #fff;
  --line: #dde2e8; --accent: #2563eb; --bad: #b42318; --bad-bg: #fee4e2; --ok: #12805c; }
@media (prefers-color-scheme: dark) { :root { --bg: #0e1216; --fg: #e6edf3; --muted: #8d99a8; --card: #161b22;
  --line: #2b333d; --accent: #6ea8fe; --bad: #ff9c94; --bad-bg: #3a1512; --ok: #3fcf8e; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: .25rem 1rem; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: .95rem; margin: 0 0 .5rem; }
.muted, .label { color: var(--muted); }
.dot { display: inline-block; width: .6rem; height: .6rem; border-radius: 50%; margin-right: .35rem; background: var(--muted); }
.dot.ok { background: var(--ok); } .dot.bad { background: var(--bad); }
#banner { margin: .75rem 0 0; padding: .6rem .8rem; border-radius: .5rem; border: 1px solid var(--bad);
  background: var(--bad-bg); color: var(--bad); font-weight: 500; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; margin: .75rem 0; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: .6rem; padding: .7rem .85rem; }
section { margin: .75rem 0; }
.label { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; }
.value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.bad { color: var(--bad); }
.chart-head { display: flex; justify-content: space-between; align-items: baseline; flex-wrap: wrap; gap: .5rem; }
.chart-box { position: relative; }
#chart_top { position: absolute; top: 0; left: .25rem; font-size: .75rem; color: var(--muted); }
svg { display: block; width: 100%; height: 9rem; }
.grid-line { stroke: var(--line); stroke-width: 1; }
.line { fill: none; stroke: var(--accent); stroke-width: 2; stroke-linejoin: round; }
.area { fill: var(--accent); opacity: .15; }
.axis { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); }
.queue { display: grid; grid-template-columns: repeat(4, 1fr); gap: .5rem; margin: 0; text-align: center; }
.queue dd { margin: 0; font-size: 1.3rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.queue dt { font-size: .75rem; color: var(--muted); }
.partitions { width: 100%; margin-top: .75rem; border-collapse: collapse; font-size: .85rem; text-align: center; }
.partitions th { font-weight: 400; color: var(--muted); }
.partitions td { font-variant-numeric: tabular-nums; }
ul { margin: .25rem 0 0; padding-left: 1.2rem; columns: 12rem; overflow-wrap: anywhere; }
footer { font-size: .8rem; color: var(--muted); margin: 1rem 0; }
a { color: var(--accent); }
form.auth { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; margin: .75rem 0 0; padding: .6rem .8rem;
  border: 1px solid var(--line); border-radius: .5rem; background: var(--card); }
input, button { font: inherit; padding: .35rem .6rem; border-radius: .4rem; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
form.tail { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 .5rem; }
form.tail input { flex: 1 1 14rem; }
button:disabled { opacity: .5; cursor: default; }
ol.tail { list-style: none; margin: 0; padding: 0; max-height: 22rem; overflow-y: auto; font-size: .85rem;
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
ol.tail li { display: flex; gap: .75rem; padding: .2rem 0; border-top: 1px solid var(--line); white-space: nowrap; }
ol.tail .seq { color: var(--muted); min-width: 4rem; }
ol.tail .topic { color: var(--accent); }
ol.tail .payload { overflow: hidden; text-overflow: ellipsis; color: var(--muted); }
[hidden] { display: none !important; }`;

function card(id: string, label: string): string {
  return `<div class="card"><div class="label">${label}</div><div class="value" id="${id}" data-testid="${id}">–</div></div>`;
}

function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aggregator</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
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
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

/**
 * `GET /`: a self-contained status page for people (no external assets). The inline style and
 * script run under a fresh nonce per response; the policy allows nothing else but fetching this
 * origin.
 */
export function statusPageRoute(): Middleware {
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
    ctx.body = renderPage(nonce);
  };
}
