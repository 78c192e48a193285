import { expect } from 'chai';
import { StreamBudget } from './streamBudget.js';

describe('StreamBudget', () => {
  it('keeps the sum of the backlogs reported, and is spent at its limit', () => {
    const budget = new StreamBudget(100);
    expect(budget.account(0, 60)).to.equal(true);
    expect(budget.account(0, 40)).to.equal(true);
    expect(budget.used).to.equal(100);
    expect(budget.spent).to.equal(true);
    expect(budget.account(60, 0)).to.equal(true);
    expect([budget.used, budget.spent]).to.deep.equal([40, false]);
  });

  it('refuses the stream whose growth takes the sum past the limit, never one that shrinks', () => {
    const budget = new StreamBudget(100);
    budget.account(0, 90);
    expect(budget.account(0, 20), 'grew past').to.equal(false);
    expect(budget.account(90, 85), 'shrank, still past').to.equal(true);
    expect(budget.used).to.equal(105);
  });
});
