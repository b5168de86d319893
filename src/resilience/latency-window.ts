/**
 * The last N latencies in a ring buffer, for percentiles the resilience layer acts on (the hedge
 * delay). Fixed memory; the percentile is recomputed at most every `recomputeEvery` samples.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;
  private sorted: Float64Array | undefined;
  private sinceRecompute = 0;

  constructor(
    size = 256,
    private readonly recomputeEvery = 16,
  ) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
    this.sinceRecompute++;
  }

  get size(): number {
    return this.count;
  }

  /** The q-quantile (0-1), or undefined with fewer than 20 samples (too little to trust). */
  quantile(q: number): number | undefined {
    if (this.count < 20) return undefined;
    if (this.sorted === undefined || this.sinceRecompute >= this.recomputeEvery) {
      this.sorted = this.samples.slice(0, this.count).sort();
      this.sinceRecompute = 0;
    }
    return this.sorted[Math.min(this.count - 1, Math.max(0, Math.ceil(this.count * q) - 1))];
  }
}
