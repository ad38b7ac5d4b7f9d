// BullMQ has no per-job timeout option: this is the documented pattern
// (docs.bullmq.io/patterns/timeout-jobs) as a reusable wrapper. The timeout is
// read from job.data.__timeoutMs (our convention) or a default per worker.
import { UnrecoverableError } from 'bullmq';

export class JobTimeoutError extends Error {
  constructor(ms) { super(`job timed out after ${ms} ms`); this.name = 'JobTimeoutError'; }
}

export function withTimeout(processor, { defaultMs = 0, retryOnTimeout = true } = {}) {
  return async (job, token, workerSignal) => {
    const ms = job.data?.__timeoutMs ?? defaultMs;
    if (!ms) return processor(job, token, workerSignal);
    const ctl = new AbortController();
    const onWorkerAbort = () => ctl.abort(workerSignal.reason);
    workerSignal?.addEventListener('abort', onWorkerAbort, { once: true });
    let timer;
    const timedOut = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const err = retryOnTimeout ? new JobTimeoutError(ms) : new UnrecoverableError(`job timed out after ${ms} ms`);
        ctl.abort(err);
        reject(err);
      }, ms);
    });
    try {
      // the job fails at the deadline even if the handler ignores the signal
      return await Promise.race([processor(job, token, ctl.signal), timedOut]);
    } finally {
      clearTimeout(timer);
      workerSignal?.removeEventListener('abort', onWorkerAbort);
    }
  };
}
