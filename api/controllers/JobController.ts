import { z } from 'zod';
import { ForbiddenError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { type JobStatus, jobStates } from '../../lib/jobs.js';
import { validate } from '../../lib/validate.js';
import { DEFAULT_TENANT } from '../services/AuthService.js';
import type { AppRequest } from '../types.js';

const idSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9_.:-]{1,300}$/, 'a job id') });
const listSchema = z.object({
  state: z.enum(jobStates as [string, ...string[]]),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/**
 * Background jobs (docs/jobs.md): `GET /job/:id` for the user who started the job and for `job/admin` of
 * its tenant; `GET /job?state=` for `job/admin`. The platform operator (`tenant/admin` of the `default`
 * tenant) reads every job, those no user started (repeatable ones) included.
 */
export class JobController {
  static schemas = { find: listSchema };

  /**
   * `GET /job/:id` → `{id, name, state, progress, attempts, result?, error?, createdAt, finishedAt?}`.
   * @throws 404 NotFound when there is no such job or the user may not read it (no existence leak)
   */
  async get(req: AppRequest, res: FluxResponse): Promise<void> {
    const { id } = validate(idSchema, req.data);
    const job = await Flux.jobs.get(id);
    if (!job || !this.mayRead(req, job)) throw new NotFoundError(`No job ${id}`);
    res.ok(publicJob(job));
  }

  /**
   * `GET /job?state=<state>&limit=<1–100, default 50>` → the jobs of the user's tenant in that state,
   * newest first (every tenant's for the platform operator), among the newest `limit` of each job name:
   * one request reads at most `limit` jobs per queue.
   * @throws 400 ValidationError (state missing or unknown), 403 without `job/admin`
   */
  async find(req: AppRequest, res: FluxResponse): Promise<void> {
    const { state, limit } = validate(listSchema, req.data);
    if (!req.team?.can('job/admin')) throw new ForbiddenError('Needs permission job/admin');
    const jobs = await Flux.jobs.list(state as JobStatus['state'], {
      limit,
      // the newest `limit` of each queue: the store reads one job per query (one at a time on PGlite, in
      // this thread), so a list must not read more than it may answer (docs/jobs.md "Status API")
      scan: limit,
      filter: (job) => this.mayRead(req, job),
    });
    res.ok(jobs.map(publicJob));
  }

  private mayRead(req: AppRequest, job: JobStatus): boolean {
    const { user, team, tenant } = req;
    if (!user || !team || !tenant) return false;
    if (tenant.slug === DEFAULT_TENANT && team.can('tenant/admin')) return true;
    if (job.startedBy?.tenantId !== tenant.id) return false;
    return job.startedBy.userId === user.id || team.can('job/admin');
  }
}

/** A job as replied: without who started it. */
function publicJob(job: JobStatus): Omit<JobStatus, 'startedBy'> {
  const { startedBy: _startedBy, ...reply } = job;
  return reply;
}
