/**
 * A token bucket, the per-source rate limit of webhook receivers (`sources[].rateLimit`): it holds
 * at most `burst` tokens, gains `perSecond` tokens a second, and each request takes one. A request
 * that finds no whole token is refused and told how many whole seconds until one is there. State is
 * in memory and per process; the clock is injectable (milliseconds, monotonic) for tests.
 */

export interface RateLimit {
  /** Tokens gained per second: the sustained rate (0.1–100000). */
  readonly perSecond: number;
  /** Most tokens held: how many requests may arrive at once after a quiet spell (≥ 1). */
  readonly burst: number;
}

export type RateDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class TokenBucket {
  readonly limit: RateLimit;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.limit = limit;
    this.#now = now;
    this.#tokens = limit.burst;
    this.#last = now();
  }

  /** Takes one token if there is one; otherwise says when to come back (whole seconds, ≥ 1). */
  take(): RateDecision {
    const now = this.#now();
    // A clock that goes backwards adds nothing rather than taking tokens away.
    const elapsedSeconds = Math.max(0, now - this.#last) / 1000;
    this.#last = Math.max(this.#last, now);
    this.#tokens = Math.min(this.limit.burst, this.#tokens + elapsedSeconds * this.limit.perSecond);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { allowed: true };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - this.#tokens) / this.limit.perSecond));
    return { allowed: false, retryAfterSeconds };
  }
}
