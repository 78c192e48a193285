import type { RetryNotice } from '@aggregator/client';

/**
 * A refused connection means nothing listens at the address (the host answered, the port is
 * closed), most often because the service was never started. It is still retried for
 * --max-retry-ms, since a service that restarts refuses for a moment too, but the user hears why
 * at the first refusal rather than after a minute of silent retries.
 */
export function isRefused(notice: RetryNotice): boolean {
  return notice.outcome.reason === 'network' && notice.outcome.detail === 'ECONNREFUSED';
}

/** The note printed at the first refusal: what it means, how to start the service, how long it waits. */
export function nothingListening(url: string, maxRetryMs: number): string {
  return (
    `nothing is listening at ${url} (connection refused): is the service running? ` +
    'Start it with `npm start` (or `docker compose up -d`), or point --url at it. ' +
    `Retrying for up to ${Math.round(maxRetryMs / 1000)} s in case it is starting…`
  );
}
