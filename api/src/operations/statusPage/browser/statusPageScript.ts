/**
 * The status page's script (a classic script, inlined by ../statusPage.ts under the page's nonce).
 * It polls `stats` (relative, so it also works behind a path prefix) every 2 s, the first topics
 * from `topics` when their count changes, and keeps 5 minutes of samples; events/s is the change
 * of `received` between two samples. Its live tail follows `events/stream`. Every value is written
 * with textContent (topics and payloads are user data).
 *
 * No import or export: this file is a script, not a module, so everything here is local to the
 * page and the compiled output runs as it is in a `<script>` element.
 */

/** The parts of `GET /stats` the page shows (the API's `Stats` type, in readStats.ts). */
interface PageStats {
  received: number;
  unique_processed: number;
  duplicate_dropped: number;
  topic_count: number;
  workers: number;
  uptime_seconds: number;
  queue: Record<'waiting' | 'active' | 'delayed' | 'failed', number>;
  partitions?: PartitionRow[];
}

interface PartitionRow {
  partition: number;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** The error envelope every API error carries. */
interface ErrorReply {
  error?: { code?: string; message?: string };
}

/** One event as `events/stream` sends it. */
interface StreamedEvent {
  seq: number;
  topic: string;
  event_id: string;
  source: string;
  payload: unknown;
}

/** A failed `/stats` poll; `status` is the HTTP status when the API answered. */
class StatsError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const TIMEOUT_MS = 5000;
const fmt = new Intl.NumberFormat('en-US');
const rates: { t: number; rate: number }[] = [];
let previous: { t: number; received: number } | null = null;
const TOKEN_KEY = 'aggregator.readToken';
let token = '';
try {
  token = sessionStorage.getItem(TOKEN_KEY) || '';
} catch {}
let lastOk = 0;
let firstOk = 0;
let timer = 0;

/** The page's element with this id; the page is served with every id this script uses. */
function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** An element of the chart (SVG elements are not HTMLElements). */
function svg(id: string): SVGElement {
  const el = document.getElementById(id);
  if (!(el instanceof SVGElement)) throw new Error(`the page has no <svg> #${id}`);
  return el;
}

function show(id: string, value: number, text?: string): void {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text === undefined ? fmt.format(value) : text;
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function rateText(rate: number): string {
  return rate >= 100 ? fmt.format(Math.round(rate)) : rate.toFixed(1);
}

/** The headers of every API read: JSON, and the read token once the user gave one. */
function readHeaders(): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return headers;
}

async function fetchStats(): Promise<PageStats> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const res = await fetch('stats', { cache: 'no-store', headers: readHeaders(), signal: abort.signal });
    const body: (PageStats & ErrorReply) | null = await res.json().catch(() => null);
    if (!res.ok || body === null || typeof body.received !== 'number') {
      const error = body?.error;
      throw new StatsError(
        `/stats answered ${res.status}${error ? ` ${error.code}: ${error.message}` : ''}`,
        res.status,
      );
    }
    return body;
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') {
      throw new StatsError(`/stats did not answer within ${TIMEOUT_MS / 1000} s`);
    }
    if (e instanceof TypeError) throw new StatsError(`cannot reach the API (${e.message})`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function record(stats: PageStats, now: number): void {
  // A counter that went down (a rebuilt mirror) gives no rate for this interval.
  if (previous && stats.received >= previous.received && now > previous.t) {
    rates.push({ t: now, rate: ((stats.received - previous.received) * 1000) / (now - previous.t) });
  }
  previous = { t: now, received: stats.received };
  while (rates.length > 0 && (rates[0]?.t ?? now) < now - WINDOW_MS) rates.shift();
}

// One row per queue partition, only when there is more than one.
function renderPartitions(partitions: readonly PartitionRow[]): void {
  $('partitions').hidden = partitions.length < 2;
  $('partition_rows').replaceChildren(
    ...partitions.map((p) => {
      const row = document.createElement('tr');
      for (const value of [p.partition, p.waiting, p.active, p.delayed, p.failed]) {
        row.appendChild(Object.assign(document.createElement('td'), { textContent: fmt.format(value) }));
      }
      row.classList.toggle('bad', p.failed > 0);
      return row;
    }),
  );
}

function render(stats: PageStats): void {
  latestSeq = stats.unique_processed;
  show('received', stats.received);
  show('unique_processed', stats.unique_processed);
  show('duplicate_dropped', stats.duplicate_dropped);
  const dupRate = stats.received > 0 ? (100 * stats.duplicate_dropped) / stats.received : 0;
  show('duplicate_rate', dupRate, stats.received > 0 ? `${dupRate.toFixed(1)}%` : '–');
  show('topics', stats.topic_count);
  show('workers', stats.workers);
  $('workers').classList.toggle('bad', stats.workers === 0);
  show('uptime', stats.uptime_seconds, duration(stats.uptime_seconds));
  for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) show(`queue_${state}`, stats.queue[state]);
  $('queue_failed').classList.toggle('bad', stats.queue.failed > 0);
  renderPartitions(stats.partitions || []);
  const current = rates.at(-1)?.rate ?? 0;
  show('rate', current, rateText(current));
  document.title = `${fmt.format(stats.received)} received · aggregator`;
}

function niceCeiling(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function drawChart(now: number): void {
  const peak = rates.reduce((max, r) => Math.max(max, r.rate), 0);
  const top = niceCeiling(Math.max(peak, 1));
  // The time axis grows from 1 minute to the full window, so a fresh page is not one sliver at the right.
  const span = Math.min(WINDOW_MS, Math.max(60_000, firstOk ? now - firstOk : 0));
  $('chart_span').textContent = `${Math.round(span / 60_000)} min ago`;
  const points = rates.map((r) => {
    const x = (300 * (r.t - (now - span))) / span;
    return `${x.toFixed(1)},${(100 - (96 * r.rate) / top).toFixed(1)}`;
  });
  svg('chart_line').setAttribute('points', points.join(' '));
  const first = points[0];
  const last = points.at(-1);
  svg('chart_area').setAttribute(
    'd',
    points.length > 1 && first !== undefined && last !== undefined
      ? `M${first.split(',')[0]},100 L${points.join(' L')} L${last.split(',')[0]},100 Z`
      : '',
  );
  $('chart_top').textContent = `${fmt.format(top)} /s`;
  show('rate_peak', peak, rateText(peak));
  svg('chart').setAttribute(
    'aria-label',
    `events per second over the last ${$('chart_span').textContent}; peak ${rateText(peak)}`,
  );
}

function setHealth(ok: boolean, message?: string): void {
  $('banner').hidden = ok;
  $('banner_text').textContent = message || '';
  $('dot').className = `dot ${ok ? 'ok' : 'bad'}`;
  if (!ok) document.title = `⚠ ${document.title.replace(/^⚠ /, '')}`;
  const age = lastOk ? Math.round((Date.now() - lastOk) / 1000) : null;
  $('updated').textContent = age === null ? 'no data yet' : ok ? 'live · every 2 s' : `last data ${age} s ago`;
}

// The first TOPICS_SHOWN topics come from GET /topics (stats carries only their count), read again
// only when the count changed: a new topic is the only thing that changes the list.
const TOPICS_SHOWN = 50;
let listedCount = -1;
async function refreshTopics(count: number): Promise<void> {
  if (count === listedCount) return;
  const res = await fetch(`topics?limit=${TOPICS_SHOWN}`, { cache: 'no-store', headers: readHeaders() });
  const rows: unknown = await res.json().catch(() => null);
  if (!res.ok || !Array.isArray(rows)) return;
  $('topic_list').replaceChildren(
    ...rows.map((row: { topic: string }) => Object.assign(document.createElement('li'), { textContent: row.topic })),
  );
  $('topic_more').textContent = count > rows.length ? `… and ${fmt.format(count - rows.length)} more` : '';
  listedCount = count;
}

async function tick(): Promise<void> {
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
    setHealth(false, `${e instanceof Error ? e.message : String(e)} — retrying every 2 s`);
    $('auth').hidden = !(e instanceof StatsError && e.status === 401);
  }
  drawChart(Date.now());
  // Clearing first keeps one loop even when a token submission started an extra tick.
  clearTimeout(timer);
  timer = setTimeout(tick, POLL_MS);
}

$('auth').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $<HTMLInputElement>('token').value.trim();
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {}
  clearTimeout(timer);
  tick();
});

// The live tail: an EventSource on events/stream, from the newest event the counters knew of at
// the last poll (unique_processed is the last seq), filtered by the pattern box. The browser reconnects by itself
// after a drop, sending Last-Event-ID, so the tail resumes without gaps or repeats.
const TAIL_ROWS = 100;
let tail: EventSource | null = null;
let latestSeq: number | null = null;
// Bumped by every Follow and Stop: a start still waiting on its check gives way to a later one.
let tailGeneration = 0;

function tailState(text: string, bad?: boolean): void {
  $('tail_state').textContent = text;
  $('tail_state').classList.toggle('bad', Boolean(bad));
}

function stopTail(text?: string): void {
  tailGeneration++;
  if (tail) tail.close();
  tail = null;
  $<HTMLButtonElement>('tail_stop').disabled = true;
  tailState(text || 'stopped');
}

function showTailEvent(event: StreamedEvent): void {
  const row = document.createElement('li');
  row.dataset.seq = String(event.seq);
  const cells = [
    ['seq', `#${event.seq}`],
    ['topic', event.topic],
    ['id', event.event_id],
    ['source', event.source],
    ['payload', JSON.stringify(event.payload)],
  ] as const;
  for (const [name, text] of cells) {
    row.appendChild(Object.assign(document.createElement('span'), { className: name, textContent: text }));
  }
  const list = $('tail_list');
  list.prepend(row);
  while (list.children.length > TAIL_ROWS) list.lastElementChild?.remove();
  $('tail_empty').hidden = true;
}

/** What the pattern check answered: a Response, or a stand-in when the request itself failed. */
type CheckReply = Pick<Response, 'ok' | 'status'> & { json(): Promise<ErrorReply> };

async function startTail(pattern: string): Promise<void> {
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
  const check: CheckReply = await fetch(`events?${params}&limit=1`, {
    cache: 'no-store',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  }).catch((e: Error) => ({ ok: false, status: 0, json: async () => ({ error: { message: e.message } }) }));
  if (generation !== tailGeneration) return;
  if (!check.ok) {
    const body = await check.json().catch(() => null);
    if (generation !== tailGeneration) return;
    stopTail(`${check.status ? `${check.status}: ` : ''}${body?.error ? body.error.message : 'cannot start the tail'}`);
    $('tail_state').classList.add('bad');
    return;
  }
  params.set('after', String(latestSeq));
  if (token) params.set('access_token', token);
  $('tail_list').replaceChildren();
  $('tail_empty').hidden = false;
  $('tail_empty').textContent = `waiting for events${pattern ? ` matching ${pattern}` : ''}…`;
  const source = new EventSource(`events/stream?${params}`);
  tail = source;
  $<HTMLButtonElement>('tail_stop').disabled = false;
  source.onopen = () => tailState(`live${pattern ? ` · ${pattern}` : ' · every topic'}`);
  source.onmessage = (message: MessageEvent<string>) => showTailEvent(JSON.parse(message.data));
  source.onerror = () => {
    if (tail !== source) return;
    if (source.readyState === EventSource.CLOSED) stopTail('the stream was refused; press Follow to retry');
    else tailState('reconnecting…', true);
  };
}

$('tail_form').addEventListener('submit', (event) => {
  event.preventDefault();
  startTail($<HTMLInputElement>('tail_pattern').value.trim());
});
$('tail_stop').addEventListener('click', () => stopTail());

tick();
