/**
 * The bytes every stream of one replica may have waiting for its client, together
 * (`STREAMS_BUFFER_BUDGET_BYTES`). `STREAM_BUFFER_BYTES` bounds one stream; without a bound on
 * their sum, 1,000 clients that stop reading would hold 1,000 × 1 MiB of one replica's memory.
 *
 * Each stream reports its backlog (what its socket has not taken) whenever it writes and when it
 * drains; the budget keeps the sum. A stream whose report takes the sum past the limit is cut
 * (its client is one that fell behind), and no new stream opens while the budget is spent.
 */
export class StreamBudget {
  #used = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes waiting across every stream, as last reported. */
  get used(): number {
    return this.#used;
  }

  /** True while no more may wait: new streams are refused. */
  get spent(): boolean {
    return this.#used >= this.limitBytes;
  }

  /**
   * Moves one stream's share from `before` to `after` bytes.
   *
   * @returns false when the sum is now past the limit and it grew: the reporting stream must go
   */
  account(before: number, after: number): boolean {
    this.#used += after - before;
    return after <= before || this.#used <= this.limitBytes;
  }
}
