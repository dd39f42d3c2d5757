/** Small statistics shared by the benches. */

/** The nearest-rank percentile `p` (0–100) of `values`; NaN for none. */
export const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

export const median = (values: ReadonlyArray<number>) => percentile(values, 50)

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits
