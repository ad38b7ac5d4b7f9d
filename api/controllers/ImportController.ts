import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { RequestHandler } from 'express';
import {
  BadRequestError,
  ForbiddenError,
  TooManyRequestsError,
  UnauthorizedError,
} from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { receiveUpload, uploadMiddleware } from '../../lib/upload.js';
import { User } from '../models/User.js';
import { checkImportFile, type ImportData } from '../services/UserImportService.js';
import type { AppRequest } from '../types.js';

/** The upload chain of the import of the running server (Flux started again may have other limits). */
const chains = new WeakMap<object, RequestHandler[]>();

/**
 * The CSV file's upload: multipart field `file`, at most `import.maxBytes`, text by content (lib/upload.ts),
 * stored in `<upload.dir>/tmp` until read.
 */
function csvUpload(): RequestHandler[] {
  let chain = chains.get(Flux.express);
  if (!chain) {
    chain = uploadMiddleware('file', {
      dir: path.resolve(Flux.rootdir, Flux.config.upload.dir),
      maxFileSize: Flux.config.import.maxBytes,
      maxFiles: 1,
      mimeTypes: ['text/csv'],
    });
    chains.set(Flux.express, chain);
  }
  return chain;
}

/**
 * Imports (docs/import.md). The file is read and checked while the request waits, then imported by a job
 * (api/jobs/importUsers.ts) on whichever instance takes it: the job carries the file's text in its data,
 * not a path on this instance's disk.
 */
export class ImportController {
  /**
   * `POST /import/users` (multipart, field `file`: a CSV file) → 202 `{jobId}`: the import is queued; its
   * progress reaches the starter's sockets as `job:progress`, and `GET /job/:id` answers its state and, once
   * completed, `{created, updated, unchanged, failed: [{line, error}], failedCount}`. Needs `user/admin`.
   * Files travel over HTTP only: over a socket 400.
   * @throws 401 anonymous, 403 without `user/admin`, 400 no file, not UTF-8 text, not CSV, a wrong header or
   *   no line after it, 413 over `import.maxBytes`
   */
  async users(req: AppRequest, res: FluxResponse): Promise<void> {
    if (!req.user || !req.tenant) throw new UnauthorizedError();
    if (!User.teamCan(req.team, 'admin')) throw new ForbiddenError('Importing users needs user/admin');
    if (req.isSocket)
      throw new BadRequestError(
        'File uploads need HTTP: send multipart/form-data with field "file" to POST /import/users',
      );
    const file = await receiveUpload(req, res, csvUpload());
    let content: Buffer;
    try {
      content = await readFile(file.path);
    } finally {
      await unlink(file.path).catch(() => undefined);
    }
    const { text, lines } = await checkImportFile(content);
    const starter = { userId: req.user.id, tenantId: req.tenant.id };
    const data: ImportData = { ...starter, csv: text, bytes: content.length, lines };
    // one unfinished import per tenant: each holds its file in the job store until it ends
    const { id, added } = await Flux.jobs.add('importUsers', data, {
      startedBy: starter,
      unique: `tenant-${req.tenant.id}`,
    });
    if (!added)
      throw new TooManyRequestsError(10, `An import of users is already running for this event (job ${id})`);
    res.status(202).json({ jobId: id });
  }
}
