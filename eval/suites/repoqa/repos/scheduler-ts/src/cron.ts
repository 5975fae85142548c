/** A parsed cron expression: the allowed values of each field. */
export interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
}

const FIELD_RANGES: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];

/** Expands one cron field such as "*\/15", "1-5" or "1,3,5" into the set of values it allows. */
export function expandField(field: string, min: number, max: number): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText ? parseInt(stepText, 10) : 1;
    let [lo, hi] = [min, max];
    if (range !== "*") {
      const bounds = range.split("-").map((v) => parseInt(v, 10));
      lo = bounds[0];
      hi = bounds.length > 1 ? bounds[1] : bounds[0];
    }
    if (Number.isNaN(lo) || lo < min || hi > max || step < 1) {
      throw new Error(`invalid cron field "${field}"`);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

/** Parses a five-field cron expression; throws on anything else. */
export function parseCron(expression: string): CronSchedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`cron expression needs 5 fields, got ${fields.length}`);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = fields.map((f, i) =>
    expandField(f, FIELD_RANGES[i][0], FIELD_RANGES[i][1]),
  );
  return { minutes, hours, daysOfMonth, months, daysOfWeek };
}

/** Returns the first minute strictly after `after` that matches the schedule. */
export function nextRun(schedule: CronSchedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setSeconds(0, 0);
  t.setMinutes(t.getMinutes() + 1);
  for (let i = 0; i < 366 * 24 * 60; i++) {
    if (
      schedule.minutes.has(t.getMinutes()) &&
      schedule.hours.has(t.getHours()) &&
      schedule.daysOfMonth.has(t.getDate()) &&
      schedule.months.has(t.getMonth() + 1) &&
      schedule.daysOfWeek.has(t.getDay())
    ) {
      return t;
    }
    t.setMinutes(t.getMinutes() + 1);
  }
  throw new Error("no matching time within a year");
}
