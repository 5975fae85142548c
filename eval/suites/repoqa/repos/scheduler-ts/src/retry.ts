export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 60_000, jitter: 0.2 };

/** Exponential backoff: base * 2^(attempt-1), capped, with +/- jitter drawn from `random`. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const spread = raw * policy.jitter;
  return Math.round(raw - spread + random() * 2 * spread);
}

/** True when another attempt is allowed after `attempt` failures. */
export function shouldRetry(policy: RetryPolicy, attempt: number, error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  return attempt < policy.maxAttempts;
}

/** An error that retrying cannot fix (bad input, missing permission). */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentError";
  }
}
