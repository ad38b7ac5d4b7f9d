import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { Flux } from '../../lib/Flux.js';
import type { AppConfigKeys } from '../configSchema.js';

/** `config.upload.s3`: where direct uploads go (validated at start: api/configSchema.ts). */
export type S3Config = NonNullable<AppConfigKeys['upload']['s3']>;

export const DEFAULT_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'application/pdf'];

let cached: { config: S3Config; client: S3Client } | undefined;

/** The AWS SDK, loaded by the first call that needs it: a start without S3 does not pay for it (docs/performance.md). */
const sdk = () => import('@aws-sdk/client-s3');

/** The S3 configuration, or undefined when direct uploads are off. */
export function s3Config(): S3Config | undefined {
  return Flux.config.upload.s3;
}

async function client(config: S3Config): Promise<S3Client> {
  const { S3Client } = await sdk();
  if (cached?.config !== config) {
    cached = {
      config,
      client: new S3Client({
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        // pre-signed PUTs must not carry a checksum of an empty body (SDK ≥ 3.729 adds one by default),
        // or real S3, R2 and MinIO refuse every non-empty upload
        requestChecksumCalculation: 'WHEN_REQUIRED',
        credentials:
          config.accessKeyId && config.secretAccessKey
            ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
            : undefined,
      }),
    };
  }
  return cached.client;
}

/** The key prefix of a user's uploads: `<tenantId>/<userId>/`. */
export function keyPrefix(tenantId: number, userId: number): string {
  return `${tenantId}/${userId}/`;
}

/** A file name reduced to safe characters (never a path): `../../x y.png` → `x_y.png`. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '')
    .slice(0, 100);
  return cleaned || 'file';
}

/**
 * A pre-signed PUT (AWS SDK v3, Signature V4) for one object under the user's prefix. The signature binds
 * the content type and the exact length: the store refuses a PUT with other values.
 */
export async function presignUpload(
  config: S3Config,
  prefix: string,
  filename: string,
  contentType: string,
  size: number,
): Promise<{ uploadUrl: string; key: string; expiresIn: number }> {
  const key = `${prefix}${randomUUID()}-${safeFileName(filename)}`;
  const expiresIn = config.expiresIn ?? 300;
  const [{ PutObjectCommand }, { getSignedUrl }] = await Promise.all([
    sdk(),
    import('@aws-sdk/s3-request-presigner'),
  ]);
  const command = new PutObjectCommand({
    Bucket: config.bucket,
    Key: key,
    ContentType: contentType,
    ContentLength: size,
  });
  const uploadUrl = await getSignedUrl(await client(config), command, {
    expiresIn,
    signableHeaders: new Set(['content-type', 'content-length']),
  });
  return { uploadUrl, key, expiresIn };
}

/** Size and type of a stored object, or null when it does not exist. */
export async function headObject(
  config: S3Config,
  key: string,
): Promise<{ size: number; contentType: string } | null> {
  try {
    const { HeadObjectCommand } = await sdk();
    const head = await (await client(config)).send(
      new HeadObjectCommand({ Bucket: config.bucket, Key: key }),
    );
    return { size: head.ContentLength ?? 0, contentType: head.ContentType ?? 'application/octet-stream' };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err as Error).name === 'NotFound') return null;
    throw err;
  }
}

/**
 * Deletes a stored object. Idempotent: deleting a key that holds nothing succeeds (S3 answers 204 either
 * way).
 * @throws the SDK's error when the store refuses or cannot be reached
 */
export async function deleteObject(config: S3Config, key: string): Promise<void> {
  const { DeleteObjectCommand } = await sdk();
  await (await client(config)).send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }));
}
