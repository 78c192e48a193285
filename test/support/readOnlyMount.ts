import { execFileSync } from 'node:child_process';

/**
 * A directory mounted read-only for one process, as a container sees a volume mounted `:ro`: the
 * process runs in a mount namespace of its own, where `dir` is bind-mounted read-only on itself;
 * everyone else keeps writing to it. Needs Linux, root (CAP_SYS_ADMIN) and util-linux's `unshare`.
 */

/** Why a read-only mount cannot be made here, or undefined when it can. */
export function readOnlyMountUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'a read-only bind mount in a mount namespace needs Linux';
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'pipe' });
    return undefined;
  } catch (thrown: unknown) {
    const stderr = (thrown as { stderr?: Buffer }).stderr?.toString().trim();
    return `unshare --mount failed (it needs root and util-linux): ${stderr || String(thrown)}`;
  }
}

/** The command line that runs `command args` with `dir` read-only. */
export function withDirReadOnly(dir: string, command: string, args: string[]): { command: string; args: string[] } {
  return {
    command: 'unshare',
    args: [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind -o ro "$0" "$0" && exec "$@"',
      dir,
      command,
      ...args,
    ],
  };
}
