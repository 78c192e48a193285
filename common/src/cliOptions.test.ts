import { expect } from 'chai';
import { integerOption, UsageError } from './cliOptions.js';

describe('integerOption', () => {
  it('takes an integer within its bounds, and the fallback when the option is absent', () => {
    expect(integerOption('n', '1', 1, 10)).to.equal(1);
    expect(integerOption('n', '10', 1, 10)).to.equal(10);
    expect(integerOption('n', ' 7 ', 1, 10)).to.equal(7);
    expect(integerOption('n', undefined, 1, 10, 4)).to.equal(4);
  });

  it('refuses, naming the option and its bounds, anything else', () => {
    for (const raw of ['', ' ', '0', '11', '1.5', 'abc', '1e400', '9007199254740993', undefined]) {
      expect(() => integerOption('n', raw, 1, 10), String(raw))
        .to.throw(UsageError)
        .with.property('message')
        .that.matches(/^--n must be an integer from 1 to 10, got "/);
    }
  });
});
