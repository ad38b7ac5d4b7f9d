import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** A local S3 (s3rver) with one bucket, for the tests of direct uploads and their clean-up. */
export interface LocalS3 {
  s3: S3rver;
  /** `upload.s3` for Flux: the bucket on this server, path-style, with s3rver's fixed credentials. */
  config: {
    bucket: string;
    region: string;
    endpoint: string;
    forcePathStyle: boolean;
    accessKeyId: string;
    secretAccessKey: string;
  };
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (a free port) with the bucket `bucket`, in a temporary folder. */
export async function startLocalS3(bucket: string): Promise<LocalS3> {
  const directory = mkdtempSync(path.join(tmpdir(), 'flux-s3-'));
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = (await s3.run()) as AddressInfo;
  return {
    s3,
    config: {
      bucket,
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    },
    async stop() {
      await s3.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
