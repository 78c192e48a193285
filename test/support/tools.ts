import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { netnsUnavailable } from './netns/netns.js';
import { readOnlyMountUnavailable } from './readOnlyMount.js';
import { executable, findExecutable, type Tool } from './requireTool.js';

/**
 * What the full suite needs from the machine, each with how to get it. A suite names its needs
 * with `before(requireTool(...))`; docs/testing.md lists them per suite.
 */

/** The private Redis of the run (test/support/hooks.ts) and of every process stack. */
export const REDIS_SERVER = executable({
  name: 'redis-server',
  candidates: ['redis-server'],
  envVar: 'REDIS_SERVER_BIN',
  install: 'Redis 6.2 or newer; Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis',
});

/**
 * The load balancer as deployed (deploy/haproxy.cfg), often in /usr/sbin outside a user's PATH: the
 * 2.6 line of the compose image, which Debian 12 ships.
 */
export const HAPROXY = executable({
  name: 'haproxy',
  candidates: ['haproxy', '/usr/sbin/haproxy'],
  envVar: 'HAPROXY_BIN',
  install: 'Debian 12: apt-get install haproxy (the 2.6 line of the compose image); macOS: brew install haproxy@2.6',
});

/** Network namespaces laid out like the compose network (test/support/netns): root and iproute2's ip. */
export const NETWORK_NAMESPACES: Tool = {
  name: 'network namespaces (root and ip)',
  problem: () => netnsUnavailable(),
};

/** A read-only bind mount, to mount the store as compose mounts it (test/apiStartOrder.test.ts). */
export const READ_ONLY_MOUNT: Tool = {
  name: 'a read-only bind mount (root)',
  problem: () => readOnlyMountUnavailable(),
};

/** Where `npx playwright-core install chromium` puts its browser, if Playwright knows this platform. */
function playwrightChromium(): string[] {
  try {
    const path = chromium.executablePath();
    return path ? [path] : [];
  } catch {
    return [];
  }
}

/** A headless browser for the status page: Debian's Chromium, a macOS app, or Playwright's own. */
export const CHROMIUM = executable({
  name: 'Chromium',
  candidates: [
    'chromium',
    'chromium-browser',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    ...playwrightChromium(),
  ],
  envVar: 'CHROMIUM_BIN',
  install:
    'Debian: apt-get install chromium; macOS: brew install --cask chromium; anywhere: npx playwright-core install chromium',
});

/** CAP_SYS_ADMIN, the capability `mount` needs, in the effective set of this process. */
function canMount(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    const CAP_SYS_ADMIN = 21n;
    return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Root on Linux, to mount a small tmpfs (the disk-full test in test/storeFailures.test.ts). */
export const MOUNT_TMPFS: Tool = {
  name: 'root (to mount a tmpfs)',
  problem(env) {
    const how =
      'Run the suite as root on Linux (sudo -E npm test), in a container with --cap-add SYS_ADMIN ' +
      '(or --privileged); on macOS this test only runs in such a Linux container.';
    if (process.platform !== 'linux') return `Mounting a tmpfs needs Linux. ${how}`;
    if (!canMount()) return `Mounting a tmpfs needs root (CAP_SYS_ADMIN), which this process lacks. ${how}`;
    if (!findExecutable('mount', env)) return 'mount was not found on the PATH (Debian/Ubuntu: apt-get install mount).';
    return undefined;
  },
};

/** Prometheus, to scrape a live stack and run the dashboard's and the rules' queries (test/monitoring.test.ts). */
export const PROMETHEUS = executable({
  name: 'prometheus',
  candidates: ['prometheus', '/usr/bin/prometheus'],
  envVar: 'PROMETHEUS_BIN',
  install: 'Debian/Ubuntu: apt-get install prometheus (its service need not run); macOS: brew install prometheus',
});

/** promtool, to unit-test the alert rules (deploy/prometheus/alerts.test.yml); in the same packages. */
export const PROMTOOL = executable({
  name: 'promtool',
  candidates: ['promtool', '/usr/bin/promtool'],
  envVar: 'PROMTOOL_BIN',
  install: 'Debian/Ubuntu: apt-get install prometheus; macOS: brew install prometheus',
});
