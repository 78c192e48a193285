import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** Every child started through this module and not yet exited; tests check it for leaks. */
const live = new Set<ManagedChild>();

export function liveChildren(): ReadonlySet<ManagedChild> {
  return live;
}

// Detached children outlive a parent that dies; never leave one behind.
process.on('exit', () => {
  for (const child of live) child.process.kill('SIGKILL');
});

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Copy the child's output to ours, prefixed with its name. */
  echo?: boolean;
  /** Run as this user and group (when we are root; PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Open node's IPC channel: the child can `process.send` (see `waitForMessage`). */
  ipc?: boolean;
}

interface Waiter {
  test: (item: unknown) => boolean;
  resolve: (item: unknown) => void;
}

/**
 * A child process we own: its output is kept (the last 2,000 lines) for diagnosis, `waitFor`
 * waits for a line to appear, `waitForMessage` for an IPC message, `stop` sends SIGTERM and waits,
 * `kill` sends SIGKILL and waits.
 */
export class ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  /** Every IPC message received (with `ipc: true`). */
  readonly messages: unknown[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #lineWaiters: Waiter[] = [];
  #messageWaiters: Waiter[] = [];

  constructor(options: SpawnOptions) {
    this.name = options.name;
    this.process = spawn(options.command, options.args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches only the launcher, which then
      // stops every child once, in order (a second signal would force them).
      detached: true,
    });
    live.add(this);
    this.exited = once(this.process, 'exit').then(([code, signal]) => {
      live.delete(this);
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        this.lines.push(line);
        if (this.lines.length > 2000) this.lines.shift();
        if (options.echo) process.stdout.write(`[${this.name}] ${line}\n`);
        this.#lineWaiters = settle(this.#lineWaiters, line);
      }
    };
    this.process.stdout?.on('data', onData);
    this.process.stderr?.on('data', onData);
    this.process.on('message', (message: unknown) => {
      this.messages.push(message);
      this.#messageWaiters = settle(this.#messageWaiters, message);
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Resolves with the first line (kept or to come) that matches; rejects if the child exits first. */
  waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const test = (line: unknown) => pattern.test(line as string);
    return this.#wait(this.lines, test, `line matching ${pattern}`, timeoutMs, (w) => this.#lineWaiters.push(w));
  }

  /** Resolves with the first IPC message (received or to come) that passes `test`; rejects if the child exits first. */
  waitForMessage<T>(test: (message: unknown) => message is T, what: string, timeoutMs = 15_000): Promise<T> {
    return this.#wait(this.messages, test, what, timeoutMs, (w) => this.#messageWaiters.push(w));
  }

  #wait<T>(
    seen: readonly unknown[],
    test: (item: unknown) => boolean,
    what: string,
    timeoutMs: number,
    enqueue: (waiter: Waiter) => void,
  ): Promise<T> {
    const existing = seen.find(test);
    if (existing !== undefined) return Promise.resolve(existing as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`)),
        timeoutMs,
      );
      enqueue({
        test,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item as T);
        },
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) before its ${what}\n${this.tail()}`));
      });
    });
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  async stop(timeoutMs = 15_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }
}

/** Resolves the waiters `item` satisfies; returns those still waiting. */
function settle(waiters: Waiter[], item: unknown): Waiter[] {
  return waiters.filter((w) => {
    if (!w.test(item)) return true;
    w.resolve(item);
    return false;
  });
}
