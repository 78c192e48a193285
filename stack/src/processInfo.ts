import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * What this machine says about a process that is not necessarily our child: whether it runs, and
 * its command line (to tell it from another process that got the same pid later).
 */

/** The command line of `pid` as the system shows it, or undefined when it cannot be read. */
export function commandLineOf(pid: number): string | undefined {
  try {
    // Linux; a process's argument vector, NUL-separated (redis-server rewrites its own).
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    // macOS and other systems without /proc.
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Whether `pid` is a running process with the command line `command` (when it was recorded): a
 * pid that now belongs to another program means the recorded one has exited.
 */
export function isRunning(pid: number, command?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e: unknown) {
    // EPERM: it exists, under another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (command === undefined) return true;
  const now = commandLineOf(pid);
  // A zombie has an empty command line: it has exited, only its parent has not reaped it.
  if (now === '') return false;
  return now === undefined || now === command;
}

/** Polls until `pid` no longer runs; false when it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, command: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid, command)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
