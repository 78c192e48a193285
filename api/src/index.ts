export { type Publisher, QueuePublisher, withTimeout } from './batchPublisher.js';
export { type AppDeps, createApp } from './createApp.js';
export type { Readiness } from './healthRoutes.js';
export { readStats, type Stats, WORKER_LIVENESS_MS } from './readStats.js';
export { lazySqliteReader, type StoreProvider } from './storeProvider.js';
