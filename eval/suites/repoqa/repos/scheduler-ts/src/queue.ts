/** A job waiting to run, ordered by its due time and then its priority. */
export interface Job {
  id: string;
  name: string;
  dueAt: number;
  priority: number;
  attempts: number;
  payload: Record<string, unknown>;
}

/** A binary min-heap of jobs keyed by (dueAt, -priority). */
export class JobQueue {
  private heap: Job[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(job: Job): void {
    this.heap.push(job);
    this.siftUp(this.heap.length - 1);
  }

  /** Removes and returns the earliest due job whose time has come, or undefined. */
  popDue(now: number): Job | undefined {
    if (this.heap.length === 0 || this.heap[0].dueAt > now) return undefined;
    const top = this.heap[0];
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private before(a: Job, b: Job): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.priority > b.priority);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(this.heap[i], this.heap[parent])) break;
      [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.heap.length && this.before(this.heap[l], this.heap[best])) best = l;
      if (r < this.heap.length && this.before(this.heap[r], this.heap[best])) best = r;
      if (best === i) return;
      [this.heap[i], this.heap[best]] = [this.heap[best], this.heap[i]];
      i = best;
    }
  }
}
