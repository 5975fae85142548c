import { CronSchedule, nextRun, parseCron } from "./cron";
import { Job, JobQueue } from "./queue";
import { backoffDelay, DEFAULT_RETRY, RetryPolicy, shouldRetry } from "./retry";

export type Handler = (job: Job) => Promise<void>;

interface Registration {
  handler: Handler;
  schedule?: CronSchedule;
}

/** Runs registered handlers for due jobs, re-queues failures with backoff and recurring jobs by cron. */
export class Scheduler {
  private queue = new JobQueue();
  private handlers = new Map<string, Registration>();
  private deadLetters: Job[] = [];

  constructor(private retry: RetryPolicy = DEFAULT_RETRY, private now: () => number = Date.now) {}

  /** Registers a handler; with a cron expression the job recurs. */
  register(name: string, handler: Handler, cron?: string): void {
    this.handlers.set(name, { handler, schedule: cron ? parseCron(cron) : undefined });
  }

  /** Adds a one-off job; returns its id. */
  enqueue(name: string, payload: Record<string, unknown> = {}, delayMs = 0, priority = 0): string {
    const id = `${name}-${this.now()}-${this.queue.size}`;
    this.queue.push({ id, name, dueAt: this.now() + delayMs, priority, attempts: 0, payload });
    return id;
  }

  /** Runs every job that is due now; returns how many ran successfully. */
  async tick(): Promise<number> {
    let ok = 0;
    for (let job = this.queue.popDue(this.now()); job; job = this.queue.popDue(this.now())) {
      const registration = this.handlers.get(job.name);
      if (!registration) {
        this.deadLetters.push(job);
        continue;
      }
      try {
        await registration.handler(job);
        ok++;
        this.scheduleNext(job, registration);
      } catch (error) {
        this.handleFailure(job, error);
      }
    }
    return ok;
  }

  private scheduleNext(job: Job, registration: Registration): void {
    if (!registration.schedule) return;
    const due = nextRun(registration.schedule, new Date(this.now())).getTime();
    this.queue.push({ ...job, dueAt: due, attempts: 0 });
  }

  /** Re-queues a failed job after a backoff delay, or moves it to the dead-letter list. */
  private handleFailure(job: Job, error: unknown): void {
    const attempts = job.attempts + 1;
    if (shouldRetry(this.retry, attempts, error)) {
      this.queue.push({ ...job, attempts, dueAt: this.now() + backoffDelay(this.retry, attempts) });
    } else {
      this.deadLetters.push({ ...job, attempts });
    }
  }

  /** Jobs that failed for good or had no handler. */
  failedJobs(): Job[] {
    return [...this.deadLetters];
  }
}
