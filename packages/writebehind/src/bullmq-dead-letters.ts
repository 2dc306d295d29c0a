import type { Job, Queue } from 'bullmq';
import type { DeadLetter, DeadLetters } from './contract.js';
import type { OfflineJobData } from './offline-job.js';

/** BullMQ's failed set (jobs kept with `removeOnFail: false`) as the dead letters. */
export class BullmqDeadLetters implements DeadLetters {
  readonly #queue: Queue<OfflineJobData>;

  constructor(queue: Queue<OfflineJobData>) {
    this.#queue = queue;
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    const jobs = (await this.#queue.getFailed(0, Math.max(0, limit - 1))) as Job<OfflineJobData>[];
    return jobs.map(deadLetterOf);
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const job = await this.#failedJob(id);
    return job === undefined ? undefined : deadLetterOf(job);
  }

  async replay(id: string): Promise<boolean> {
    const job = await this.#failedJob(id);
    if (job === undefined) return false;
    // Same id, so the same deduplication token: a job that did reach ClickHouse adds nothing again.
    await job.retry('failed', { resetAttemptsMade: true });
    return true;
  }

  async drop(id: string): Promise<boolean> {
    const job = await this.#failedJob(id);
    if (job === undefined) return false;
    await job.remove();
    return true;
  }

  async #failedJob(id: string): Promise<Job<OfflineJobData> | undefined> {
    const job = (await this.#queue.getJob(id)) as Job<OfflineJobData> | undefined;
    if (job === undefined) return undefined;
    return (await job.getState()) === 'failed' ? job : undefined;
  }
}

function deadLetterOf(job: Job<OfflineJobData>): DeadLetter {
  return {
    id: job.id ?? '',
    view: job.data.view,
    version: job.data.version,
    rowCount: job.data.rowCount,
    attempts: job.attemptsMade,
    error: job.failedReason,
    enqueuedAtMillis: job.data.enqueuedAtMillis,
    failedAtMillis: job.finishedOn ?? job.processedOn ?? 0,
  };
}
