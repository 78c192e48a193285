import { fileURLToPath } from 'node:url';
import { API_NODE_FLAGS } from '@aggregator/api';
import { isReadyMessage } from '@aggregator/common';
import { ManagedChild } from './childProcess.js';

/** The repository root, found from this file's place in stack/dist. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const ENTRYPOINTS = {
  api: `${REPO_ROOT}api/dist/main.js`,
  apiCluster: `${REPO_ROOT}api/dist/cluster.js`,
  worker: `${REPO_ROOT}worker/dist/main.js`,
} as const;

export interface ServiceOptions {
  name: string;
  /** Configuration variables (see the README table); merged over this process's environment. */
  env: Record<string, string>;
  echo?: boolean;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /**
   * Working directory (default: this process's). Relative paths in the configuration, such as
   * the default `SQLITE_PATH`, resolve against it.
   */
  cwd?: string;
}

function spawnNode(entry: string, options: ServiceOptions, flags: readonly string[] = []): ManagedChild {
  return new ManagedChild({
    name: options.name,
    command: process.execPath,
    args: [...flags, ...(options.nodeArgs ?? []), entry],
    // The user's LOG_LEVEL too: readiness comes over IPC, not from the logs.
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    echo: options.echo,
    ipc: true,
  });
}

/**
 * Starts one API process (or a cluster of `API_REPLICAS`) and waits until it listens (every
 * replica, for a cluster); its ready message, with the address, is in `child.messages`.
 */
export async function startApi(options: ServiceOptions & { cluster?: boolean }): Promise<ManagedChild> {
  // The cluster primary passes its flags on to the replicas it forks.
  const child = spawnNode(options.cluster ? ENTRYPOINTS.apiCluster : ENTRYPOINTS.api, options, API_NODE_FLAGS);
  // A cluster is ready when its last replica is: on a busy 2-core machine that takes a while.
  await untilReady(child, options.cluster ? 60_000 : 15_000);
  return child;
}

/** Waits for the child's ready message; a child that never sends it is stopped, not left running. */
async function untilReady(child: ManagedChild, timeoutMs?: number): Promise<void> {
  try {
    await child.waitForMessage(isReadyMessage, 'ready message', timeoutMs);
  } catch (e: unknown) {
    await child.stop();
    throw e;
  }
}

/** Starts one worker process and waits until it takes jobs. */
export async function startWorker(options: ServiceOptions): Promise<ManagedChild> {
  const child = spawnNode(ENTRYPOINTS.worker, options);
  await untilReady(child);
  return child;
}
