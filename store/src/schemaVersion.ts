/**
 * Each adapter keeps an ordered list of migrations; the store's schema version is the number of
 * migrations applied to it. Workers migrate at start (under a lock); API replicas only read and
 * refuse a schema other than the one their build knows.
 */

/** The store's schema is not the one this build can use; the message names both versions. */
export class SchemaVersionError extends Error {
  override name = 'SchemaVersionError';
  readonly code = 'STORE_SCHEMA_VERSION';

  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(
      found > known
        ? `the store has schema version ${found}, newer than this build knows (up to ${known}); run a newer build`
        : `the store has schema version ${found}, this build needs ${known}; a worker of this build migrates it at start`,
    );
  }
}

/**
 * True for a SchemaVersionError. By its code, not `instanceof`: the adapters are loaded by a
 * dynamic `import()`, and a test runner that loads the package's entry point another way (tsx's
 * CommonJS transform) ends up with two copies of the class.
 */
export function isSchemaVersionError(error: unknown): error is SchemaVersionError {
  return (error as { code?: unknown } | null)?.code === 'STORE_SCHEMA_VERSION';
}

/**
 * Checks a store's version before use. A writer can migrate anything up to `known`; a reader
 * needs exactly `known` (an older schema is migrated by the first worker of this build).
 *
 * @throws SchemaVersionError
 */
export function checkSchemaVersion(found: number, known: number, role: 'reader' | 'writer'): void {
  if (found > known || (role === 'reader' && found !== known)) throw new SchemaVersionError(found, known);
}
