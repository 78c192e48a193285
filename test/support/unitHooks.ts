import { failOnLeakedChildren } from './childLeaks.js';

/**
 * Root hooks of the unit tier (.mocharc.unit.json): no Redis, no child process. A test of the tier
 * that needs Redis fails on the missing TEST_REDIS_URL; one that leaves a child running fails here.
 */
export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    return failOnLeakedChildren(this.currentTest);
  },
};
