/** A PostgreSQL URL without credentials or parameters (`host:port/database`), for logs and messages. */
export function postgresLocation(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}
