import type { JobState } from '@flux/client';
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage } from '../fields';
import { session } from '../state';
import { formatTime, PageHead } from './ui';

/** A job as `GET /job/:id` and `GET /job` answer it (docs/jobs.md "Status API"). */
export interface Job {
  id: string;
  name: string;
  state: JobState;
  progress: number;
  attempts: number;
  result?: unknown;
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

const states: JobState[] = ['active', 'waiting', 'delayed', 'failed', 'completed'];

/**
 * Background jobs (`job/admin`): the jobs of one state, newest first. Jobs are not a model, so there is no
 * live query for them: the list is read when the page opens, when the state changes and on Refresh. The
 * API offers no retry or removal (the CLI does: `npx flux jobs retry|remove`), so the page only reads.
 */
export function Jobs() {
  const [state, setState] = useState<JobState>('failed');
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [readAt, setReadAt] = useState<Date | null>(null);
  const [turn, setTurn] = useState(0);
  const client = session.client.value;

  useEffect(() => {
    let gone = false;
    setError(null);
    client.request<Job[]>('GET', '/job', { state, limit: 100 }).then(
      ({ data }) => {
        if (gone) return;
        setJobs(data);
        setReadAt(new Date());
      },
      (caught: unknown) => !gone && setError(describeError(caught)),
    );
    return () => {
      gone = true;
    };
  }, [client, state, turn]);

  return (
    <section aria-labelledby="jobs-title">
      <PageHead id="jobs-title" title="Jobs" count={jobs?.length}>
        <label class="inline">
          State
          <select name="state" value={state} onChange={(e) => setState(e.currentTarget.value as JobState)}>
            {states.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={() => setTurn(turn + 1)}>
          Refresh
        </button>
      </PageHead>
      <p class="muted">
        Read {readAt ? `at ${readAt.toLocaleTimeString()}` : '…'}; this list does not follow changes: Refresh
        reads it again. Retry or remove a job with <code>npx flux jobs</code>.
      </p>
      <ErrorMessage text={error} />
      {jobs && jobs.length === 0 && <p class="empty">No {state} job.</p>}
      {jobs && jobs.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Progress</th>
              <th scope="col">Attempts</th>
              <th scope="col">Created</th>
              <th scope="col">Finished</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <tr key={job.id} data-job-id={job.id}>
                <th scope="row" data-label="Job">
                  {job.name}
                  <small class="muted mono">{job.id}</small>
                </th>
                <td data-label="Progress">{Math.round(job.progress)} %</td>
                <td data-label="Attempts">{job.attempts}</td>
                <td class="time" data-label="Created">
                  {formatTime(job.createdAt)}
                </td>
                <td class="time" data-label="Finished">
                  {formatTime(job.finishedAt)}
                </td>
                <td data-label="Error">{job.error ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
