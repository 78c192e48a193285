export {
  type ApplyOutcome,
  applyBatch,
  type BatchToApply,
  type EventJsonRow,
  type EventStoreReader,
  type EventStoreWriter,
  type HeadStep,
  type ListQuery,
  type StoreCounters,
  type StoredEventRow,
  type StoreKind,
  type TopicStats,
  type TopicStatsQuery,
} from './eventStore.js';
export {
  describeStore,
  type OpenStoreOptions,
  openStoreReader,
  openStoreWriter,
  type StoreConfig,
  storeKind,
} from './openStore.js';
export { POSTGRES_MIGRATIONS } from './postgres/migrationList.js';
export { isSchemaVersionError, SchemaVersionError } from './schemaVersion.js';
