import { fileURLToPath } from 'node:url';
import { ManagedChild } from './childProcess.js';

/** The repository root, found from this file's place in load/dist/stack. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

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
}

function spawnNode(entry: string, options: ServiceOptions): ManagedChild {
  return new ManagedChild({
    name: options.name,
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), entry],
    env: { ...process.env, LOG_LEVEL: 'info', ...options.env },
    echo: options.echo,
  });
}

/** Starts one API process (or a cluster of `API_REPLICAS`) and waits until it listens. */
export async function startApi(options: ServiceOptions & { cluster?: boolean }): Promise<ManagedChild> {
  const child = spawnNode(options.cluster ? ENTRYPOINTS.apiCluster : ENTRYPOINTS.api, options);
  await child.waitFor(/"api listening"/);
  return child;
}

/** Starts one worker process and waits until it takes jobs. */
export async function startWorker(options: ServiceOptions): Promise<ManagedChild> {
  const child = spawnNode(ENTRYPOINTS.worker, options);
  await child.waitFor(/"worker started"/);
  return child;
}
