import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@aggregator/stack';
import { parse } from 'yaml';

/**
 * Readers of the deployment files (docker-compose.yml, Dockerfile, .dockerignore) into plain
 * shapes that tests can assert on. Only what the tests need of each format is understood.
 */

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

// ---- docker-compose.yml ------------------------------------------------------------------------

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; target?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | number | { target?: number; published?: number | string }>;
  expose?: Array<string | number>;
  volumes?: Array<string | { type?: string; source?: string; target?: string; read_only?: boolean }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  profiles?: string[];
  container_name?: string;
  user?: string;
  cap_drop?: string[];
  security_opt?: string[];
  read_only?: boolean;
  tmpfs?: string | string[];
  mem_limit?: string | number;
  deploy?: { resources?: { limits?: { memory?: string } } };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readCompose(): ComposeFile {
  return parse(readRepoFile('docker-compose.yml')) as ComposeFile;
}

/**
 * The `docker compose …` commands the header comment of docker-compose.yml shows (lines like
 * `#   docker compose up -d …`, a trailing `# comment` dropped), each as a list of words.
 */
export function composeHeaderCommands(): string[][] {
  const lines = readRepoFile('docker-compose.yml').split(/\r?\n/);
  const header = lines.slice(
    0,
    Math.max(
      0,
      lines.findIndex((line) => !line.startsWith('#') && line.trim() !== ''),
    ),
  );
  return header.flatMap((line) => {
    const command = /^#\s+(docker compose .*?)(?:\s+#.*)?$/.exec(line)?.[1];
    return command ? [command.split(/\s+/)] : [];
  });
}

/** The service's environment as a map (compose allows a map or a list of `NAME=value`). */
export function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** The command as a list of words. */
export function commandOf(service: ComposeService): string[] {
  const command = service.command ?? [];
  return Array.isArray(command) ? command.map(String) : command.split(/\s+/).filter(Boolean);
}

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** The service's volumes, short (`source:target[:mode]`) or long syntax. */
export function mountsOf(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = '', mode = ''] = volume.split(':');
      return { source, target, readOnly: mode.split(',').includes('ro') };
    }
    return { source: volume.source ?? '', target: volume.target ?? '', readOnly: volume.read_only === true };
  });
}

/**
 * The host address each published port listens on, as written (`${VAR:-127.0.0.1}` kept): '' for
 * a port published without one, which Docker binds on every interface.
 */
export function publishedAddressesOf(service: ComposeService): string[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return String((port as { host_ip?: string }).host_ip ?? '');
    // host-ip:published:target, where host-ip may itself be `${VAR:-x}`.
    const match = /^(.*):[^:]+:[^:]+$/.exec(String(port).split('/')[0] ?? '');
    return match?.[1] ?? '';
  });
}

/** The host ports the service publishes. */
export function publishedPortsOf(service: ComposeService): number[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return Number(port.published ?? port.target);
    // [host-ip:]published:target[/protocol], or a bare container port (published at random).
    const parts = String(port).split('/')[0]?.split(':') ?? [];
    return Number(parts.length >= 2 ? parts[parts.length - 2] : Number.NaN);
  });
}

/** `depends_on` as a map of service → condition. */
export function dependenciesOf(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

// ---- Dockerfile ----------------------------------------------------------------------------------

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  /** The base image with build arguments substituted. */
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** The Dockerfile as stages of instructions: continuation lines joined, comments dropped. */
export function readDockerfile(): Stage[] {
  const lines = readRepoFile('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instruction.op === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = instruction.args.split('=');
      args[name] = value;
    } else if (instruction.op === 'FROM') {
      const [image = '', as, name] = instruction.args.split(' ');
      const from = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => args[arg] ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The stage `name` and the stages it is built on, nearest first. */
export function stageChain(stages: Stage[], name: string): Stage[] {
  const chain: Stage[] = [];
  for (let stage = stages.find((s) => s.name === name); stage; ) {
    chain.push(stage);
    const base = stage.from;
    stage = stages.find((s) => s.name === base);
  }
  return chain;
}

/** The effective value of a (last-wins) instruction for a target: its own, or its bases'. */
export function effective(stages: Stage[], target: string, op: string): string | undefined {
  for (const stage of stageChain(stages, target)) {
    const found = stage.instructions.filter((i) => i.op === op).at(-1);
    if (found) return found.args;
  }
  return undefined;
}

// ---- deploy/haproxy.cfg --------------------------------------------------------------------------

export interface HaproxySection {
  /** `global`, `defaults`, `frontend`, `backend`, `resolvers`, … */
  kind: string;
  name: string | undefined;
  /** Its directives, one per line, whitespace collapsed, comment lines dropped. */
  lines: string[];
}

/** deploy/haproxy.cfg as sections of directives (a line starting a section has no indentation). */
export function readHaproxyConfig(path = 'deploy/haproxy.cfg'): HaproxySection[] {
  const sections: HaproxySection[] = [];
  for (const raw of readRepoFile(path).split(/\r?\n/)) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (line === '' || line.startsWith('#')) continue;
    if (/^\S/.test(raw)) {
      const [kind = '', name] = line.split(' ');
      sections.push({ kind, name, lines: [] });
    } else {
      sections.at(-1)?.lines.push(line);
    }
  }
  return sections;
}

/** The lines of `section` that start with `keyword` (a whole word). */
export function directivesOf(section: HaproxySection | undefined, keyword: string): string[] {
  return (section?.lines ?? []).filter((line) => line === keyword || line.startsWith(`${keyword} `));
}
