export { parseCron, nextRun, expandField } from "./cron";
export { JobQueue } from "./queue";
export type { Job } from "./queue";
export { Scheduler } from "./scheduler";
export { backoffDelay, shouldRetry, PermanentError, DEFAULT_RETRY } from "./retry";
