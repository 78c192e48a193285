/**
 * Progress on stderr: a redrawn bar with the rate on a terminal, a plain line every interval when
 * stderr is a pipe or a file (CI logs, tests), nothing with `--quiet`. Notes (retries, phases) go
 * to the same stream without breaking the bar.
 */
export type ProgressMode = 'bar' | 'lines' | 'off';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function progressMode(stream: ProgressStream, quiet: boolean): ProgressMode {
  if (quiet) return 'off';
  return stream.isTTY ? 'bar' : 'lines';
}

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

const BAR_REDRAW_MS = 100;
/** The rate shown is measured over this window, so it follows changes (an outage) quickly. */
const RATE_WINDOW_MS = 3_000;

export class Progress {
  readonly #stream: ProgressStream;
  readonly #mode: ProgressMode;
  readonly #total: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #started: number;
  #samples: Array<{ at: number; done: number }> = [];
  #lastDraw = Number.NEGATIVE_INFINITY;
  #done = 0;
  #retries = 0;
  #barShown = false;

  constructor(options: {
    stream: ProgressStream;
    mode: ProgressMode;
    total: number;
    /** Time between two plain lines. */
    intervalMs: number;
    now?: () => number;
  }) {
    this.#stream = options.stream;
    this.#mode = options.mode;
    this.#total = options.total;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
    this.#samples.push({ at: this.#started, done: 0 });
  }

  /** Events per second over the last few seconds. */
  rate(): number {
    const now = this.#now();
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? now) < now - RATE_WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0];
    if (!first || now - first.at < 1) return 0;
    return ((this.#done - first.done) * 1000) / (now - first.at);
  }

  update(done: number, retries: number): void {
    this.#done = done;
    this.#retries = retries;
    const now = this.#now();
    this.#samples.push({ at: now, done });
    const every = this.#mode === 'bar' ? BAR_REDRAW_MS : this.#intervalMs;
    if (this.#mode === 'off' || now - this.#lastDraw < every) return;
    this.#lastDraw = now;
    this.#draw();
  }

  /** A line of its own (a retry, a phase), kept above the bar. */
  note(message: string): void {
    if (this.#mode === 'off') return;
    if (this.#mode === 'bar') {
      this.#stream.write(`\r\x1b[2K${message}\n`);
      if (this.#barShown) this.#draw();
      return;
    }
    this.#stream.write(`${message}\n`);
  }

  /** Draws the final state and leaves the cursor on a fresh line. */
  finish(): void {
    if (this.#mode === 'off') return;
    this.#draw();
    if (this.#mode === 'bar') this.#stream.write('\n');
    this.#barShown = false;
  }

  #draw(): void {
    const rate = this.rate();
    const share = this.#total === 0 ? 1 : this.#done / this.#total;
    const percent = `${(share * 100).toFixed(1)}%`;
    const eta = rate > 0 ? formatSeconds((this.#total - this.#done) / rate) : '?';
    const counts = `${formatCount(this.#done)}/${formatCount(this.#total)} events`;
    const retries = this.#retries > 0 ? `  retries ${formatCount(this.#retries)}` : '';
    if (this.#mode === 'lines') {
      this.#stream.write(`sent ${counts} (${percent}), ${formatCount(rate)} ev/s${retries}\n`);
      return;
    }
    const text = ` ${percent.padStart(6)}  ${counts}  ${formatCount(rate)} ev/s${retries}  eta ${eta}`;
    // A width fixed for the run: a bar that changes length as the counts grow would jitter.
    const width = Math.max(10, Math.min(40, (this.#stream.columns || 80) - 64));
    const filled = Math.min(width, Math.floor(share * width));
    this.#stream.write(`\r\x1b[2K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${text}`);
    this.#barShown = true;
  }
}
