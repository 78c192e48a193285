import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/** Mode of every directory the local stack keeps data or secrets in: its owner only. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates `dir` (and its parents) if missing and makes it readable by its owner only, also when
 * it already existed with wider permissions (a data directory made by an older version).
 */
export function privateDir(dir: string, mode = PRIVATE_DIR_MODE): string {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  return dir;
}

/** A new random secret of URL-safe characters (base64url, 32 bytes). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The secret kept in `path` (mode 0600), made on first use: a private server's password survives
 * restarts of the stack, as the server's data does.
 */
export function keptSecret(path: string): string {
  if (existsSync(path)) {
    const kept = readFileSync(path, 'utf8').trim();
    if (kept !== '') return kept;
  }
  const secret = newSecret();
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return secret;
}
