import { z } from 'zod';
import { BadRequestError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController } from '../../lib/ModelController.js';
import { validate } from '../../lib/validate.js';
import { Upload } from '../models/Upload.js';
import { claimForConfirmation, recordPresigned } from '../services/PendingUploadService.js';
import {
  DEFAULT_CONTENT_TYPES,
  headObject,
  keyPrefix,
  presignUpload,
  type S3Config,
  s3Config,
} from '../services/StorageService.js';
import type { AppRequest } from '../types.js';

const presignSchema = z.object({
  filename: z.string().min(1).max(255),
  contentType: z.string().min(1).max(100),
  size: z.number().int().positive(),
});
const confirmSchema = z.object({ key: z.string().min(1).max(512) });

/**
 * Direct uploads to S3 (docs/reference.md#uploads): `POST /upload/presign` hands out a pre-signed PUT URL for
 * one object under `<tenantId>/<userId>/`; the client PUTs the file there itself; `POST /upload/confirm`
 * checks the object and records it as an `Upload`. Answer 404 when `config.upload.s3` is not set.
 */
export class UploadController extends ModelController<Upload> {
  /** Request bodies of the actions beyond CRUD, for validation and the OpenAPI document. */
  static schemas = { presign: presignSchema, confirm: confirmSchema };

  constructor() {
    super(Upload);
  }

  private config(): S3Config {
    const config = s3Config();
    if (!config) throw new NotFoundError('Direct uploads are not configured (config.upload.s3)');
    return config;
  }

  /**
   * `POST /upload/presign {filename, contentType, size}` → `{uploadUrl, key, expiresIn}` (seconds).
   * @throws 400 a content type outside the allow-list or a size over `s3.maxSize`.
   */
  async presign(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const config = this.config();
    const { filename, contentType, size } = validate(presignSchema, req.data);
    const allowed = config.contentTypes ?? DEFAULT_CONTENT_TYPES;
    if (!allowed.includes(contentType)) {
      throw new BadRequestError('Invalid data', [
        { path: 'contentType', message: `one of ${allowed.join(', ')}`, type: 'type' },
      ]);
    }
    const maxSize = config.maxSize ?? 50 * 1024 * 1024;
    if (size > maxSize) {
      throw new BadRequestError('Invalid data', [
        { path: 'size', message: `at most ${maxSize} bytes`, type: 'max' },
      ]);
    }
    const presigned = await presignUpload(
      config,
      keyPrefix(ctx.tenant.id, ctx.user.id),
      filename,
      contentType,
      size,
    );
    // recorded, so that an object uploaded and never confirmed is found and deleted (docs/escalation.md)
    await recordPresigned(presigned.key, new Date(Date.now() + presigned.expiresIn * 1000));
    res.ok(presigned);
  }

  /**
   * `POST /upload/confirm {key}` → 201 the recorded `Upload`. The key must be one of the caller's
   * (its prefix), handed out by `presign` and still pending, and the object must exist in the bucket.
   * @throws 400 a foreign key or a missing object, one already confirmed, or one the clean-up of
   *   unconfirmed uploads took (docs/escalation.md#housekeeping).
   */
  async confirm(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const config = this.config();
    const { key } = validate(confirmSchema, req.data);
    const prefix = keyPrefix(ctx.tenant.id, ctx.user.id);
    const invalid = (message: string) =>
      new BadRequestError('Invalid data', [{ path: 'key', message, type: 'reference' }]);
    if (!key.startsWith(prefix) || key.includes('..')) throw invalid('not one of your upload keys');
    if (await Flux.Upload.count({ where: { key } })) throw invalid('already confirmed');
    const object = await headObject(config, key);
    if (!object) throw invalid('nothing was uploaded with this key');
    const upload = await Flux.sequelize.transaction(async (transaction) => {
      // a key never handed out, confirmed at the same time, or already taken by the clean-up of
      // unconfirmed uploads (its object is being deleted)
      if (!(await claimForConfirmation(key, transaction))) throw invalid('not pending: presign it again');
      return Flux.Upload.create(
        {
          tenantId: ctx.tenant.id,
          userId: ctx.user.id,
          key,
          filename: key.slice(prefix.length + 37),
          contentType: object.contentType,
          size: object.size,
        },
        { transaction },
      );
    });
    res.created(upload);
  }
}
