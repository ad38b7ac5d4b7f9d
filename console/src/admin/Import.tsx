import { FluxError, type JobProgressPayload } from '@flux/client';
import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage } from '../fields';
import { session } from '../state';
import { uploadFile } from './files';
import type { Job } from './Jobs';
import { PageHead, useAction } from './ui';

/** `result` of a completed `importUsers` job (docs/import.md). */
interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  failed: Array<{ line: number; error: string }>;
  failedCount: number;
}

/** The import being followed: kept while the user visits other pages, so that coming back shows it. */
const current = signal<{ jobId: string; fileName: string; userId: number } | null>(null);

/** How long without a `job:progress` before the job is read (a socket down, another instance's event lost). */
const POLL_MS = 2_000;

/**
 * The CSV import of users (`user/admin`, docs/import.md): upload a file, follow the job's progress
 * (`job:progress` on the socket, `GET /job/:id` as a fallback), then the counts and the lines that failed.
 */
export function Import() {
  const [file, setFile] = useState<File | null>(null);
  const upload = useAction();

  const start = () =>
    void upload.run(async () => {
      if (!file) return;
      const { jobId } = await uploadFile<{ jobId: string }>('/import/users', 'file', file);
      current.value = { jobId, fileName: file.name, userId: session.me.value!.user.id };
    });

  return (
    <section aria-labelledby="import-title">
      <PageHead id="import-title" title="Import users" />
      <form
        class="card admin-card"
        onSubmit={(event) => {
          event.preventDefault();
          start();
        }}
      >
        <p class="muted">
          A CSV file (UTF-8, comma-separated) with the header <code>login,name,team,email</code> and
          optionally <code>password</code>. Users are created or updated by login; teams are named, never
          created; a password is only set on new users. Running the same file again changes nothing.
        </p>
        <ErrorMessage text={upload.error} />
        <label>
          CSV file
          <input
            name="file"
            type="file"
            accept=".csv,text/csv"
            required
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={!file || upload.busy}>
            {upload.busy ? 'Sending…' : 'Import'}
          </button>
        </div>
      </form>
      {/* only the starter reads the job: another user signed in on this page meanwhile does not */}
      {current.value?.userId === session.me.value?.user.id && current.value && (
        <ImportProgress
          key={current.value.jobId}
          jobId={current.value.jobId}
          fileName={current.value.fileName}
        />
      )}
    </section>
  );
}

/** One import's job: its progress bar while it runs, then its result. */
function ImportProgress({ jobId, fileName }: { jobId: string; fileName: string }) {
  const [job, setJob] = useState<Pick<Job, 'state' | 'progress'> & Partial<Job>>({
    state: 'waiting',
    progress: 0,
  });
  const [error, setError] = useState<string | null>(null);
  const client = session.client.value;
  const ended = job.state === 'completed' || job.state === 'failed';

  useEffect(() => {
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // the next read, POLL_MS after the last sign of life (a read or a progress event)
    const schedule = () => {
      clearTimeout(timer);
      if (!gone) timer = setTimeout(read, POLL_MS);
    };
    const read = async () => {
      try {
        const { data } = await client.request<Job>('GET', `/job/${encodeURIComponent(jobId)}`);
        if (gone) return;
        // a progress event may have come while this read ran: the bar never moves back
        setJob((known) => ({ ...data, progress: Math.max(known.progress, data.progress) }));
        setError(null);
        if (data.state === 'completed' || data.state === 'failed') return;
      } catch (caught) {
        if (gone) return;
        setError(describeError(caught));
        // the job is gone (removed, or kept no longer): nothing more will come
        if (caught instanceof FluxError && caught.status === 404) return;
      }
      schedule();
    };
    // progress arrives with every whole percent; the last event says the job ended: read its result then
    const onProgress = (event: JobProgressPayload) => {
      if (event.id !== jobId) return;
      setJob((known) => ({
        ...known,
        state: event.state,
        progress: Math.max(known.progress, event.progress),
      }));
      if (event.state === 'completed' || event.state === 'failed') {
        clearTimeout(timer);
        void read();
      } else schedule();
    };
    client.socket?.on('job:progress', onProgress);
    void read();
    return () => {
      gone = true;
      clearTimeout(timer);
      client.socket?.off('job:progress', onProgress);
    };
  }, [client, jobId]);

  const result = job.state === 'completed' ? (job.result as ImportResult | undefined) : undefined;
  const percent = job.state === 'completed' ? 100 : Math.round(job.progress);
  return (
    <section class="card admin-card import-job" aria-labelledby="import-job-title" data-job-state={job.state}>
      <h2 id="import-job-title">
        {fileName} <span class={`badge state ${job.state}`}>{job.state}</span>
      </h2>
      <div
        class="progress"
        role="progressbar"
        aria-label="Import progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div class="bar" style={{ width: `${percent}%` }} />
      </div>
      <p class="muted" aria-live="polite">
        {ended
          ? job.state === 'completed'
            ? 'Done.'
            : 'The import failed.'
          : `${percent} % of the file read`}
      </p>
      {error && !ended && (
        <p class="notice" role="status">
          {error}
        </p>
      )}
      {job.state === 'failed' && job.error && (
        <p class="error" role="alert">
          {job.error}
        </p>
      )}
      {result && (
        <>
          <dl class="import-figures">
            <div>
              <dt>Created</dt>
              <dd>{result.created}</dd>
            </div>
            <div>
              <dt>Updated</dt>
              <dd>{result.updated}</dd>
            </div>
            <div>
              <dt>Unchanged</dt>
              <dd>{result.unchanged}</dd>
            </div>
            <div class={result.failedCount ? 'import-failed' : undefined}>
              <dt>Failed</dt>
              <dd>{result.failedCount}</dd>
            </div>
          </dl>
          {result.failed.length > 0 && <h3 id="failed-lines-title">Lines that failed</h3>}
          {result.failed.length > 0 && (
            <table class="list failed-lines" aria-labelledby="failed-lines-title">
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {result.failed.map((failure) => (
                  <tr key={failure.line} data-line={failure.line}>
                    <th scope="row" data-label="Line">
                      {failure.line}
                    </th>
                    <td data-label="Why">{failure.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {result.failedCount > result.failed.length && (
            <p class="muted">
              The first {result.failed.length} of {result.failedCount} failed lines are listed.
            </p>
          )}
        </>
      )}
    </section>
  );
}
