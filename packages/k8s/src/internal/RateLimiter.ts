/** Token-bucket settings: `ratePerSecond` refill, `burst` capacity. */
export interface TokenBucketOptions {
  readonly ratePerSecond: number
  readonly burst: number
}

/** Defaults for status writes: 5 per second, bursts of 10. */
export const DefaultWriteRate: TokenBucketOptions = { ratePerSecond: 5, burst: 10 }

/** The state of a token bucket at a moment. */
export interface TokenBucket {
  readonly tokens: number
  readonly at: number
}

/** A full bucket at `now`. */
export const fullBucket = (options: TokenBucketOptions, now: number): TokenBucket => ({
  tokens: options.burst,
  at: now
})

/**
 * Tries to take one token at `now`. Returns the new bucket and, when none is available, how
 * long to wait (ms) until one is. Pure: time is an argument.
 *
 * @example
 * ```ts
 * import { fullBucket, takeToken } from "./RateLimiter.ts"
 *
 * const options = { ratePerSecond: 5, burst: 1 }
 * const first = takeToken(fullBucket(options, 0), options, 0)   // { waitMs: 0, ... }
 * const second = takeToken(first.bucket, options, 0)           // { waitMs: 200, ... }
 * ```
 */
export const takeToken = (
  bucket: TokenBucket,
  options: TokenBucketOptions,
  now: number
): { readonly bucket: TokenBucket; readonly waitMs: number } => {
  const refilled = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.ratePerSecond)
  if (refilled >= 1) return { bucket: { tokens: refilled - 1, at: now }, waitMs: 0 }
  return {
    bucket: { tokens: refilled, at: now },
    waitMs: Math.ceil(((1 - refilled) / options.ratePerSecond) * 1000)
  }
}
