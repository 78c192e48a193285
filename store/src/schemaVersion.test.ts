import { expect } from 'chai';
import { checkSchemaVersion, isSchemaVersionError } from './schemaVersion.js';

describe('checkSchemaVersion', () => {
  it('lets a writer migrate any older schema, and a reader use only the known one', () => {
    for (const found of [0, 1, 2]) expect(() => checkSchemaVersion(found, 2, 'writer')).to.not.throw();
    expect(() => checkSchemaVersion(2, 2, 'reader')).to.not.throw();
    for (const found of [0, 1])
      expect(() => checkSchemaVersion(found, 2, 'reader')).to.throw(/a worker of this build migrates it/);
  });

  it('refuses a newer schema to both, saying to run a newer build', () => {
    for (const role of ['reader', 'writer'] as const) {
      let thrown: unknown;
      try {
        checkSchemaVersion(3, 2, role);
      } catch (e) {
        thrown = e;
      }
      expect(isSchemaVersionError(thrown), role).to.equal(true);
      expect((thrown as Error).message).to.match(/newer than this build knows \(up to 2\); run a newer build/);
    }
  });
});
