import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { imageWork } from '../../api/services/AvatarService.js';
import { Flux } from '../../lib/Flux.js';
import { connectSocket, httpTransport, socketRequest, type Transport } from '../helpers/clients.js';
import { adminLogin, createTeamWithUser, expectStatus, login } from '../helpers/fixtures.js';
import { type LocalS3, startLocalS3 } from '../helpers/s3.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Uploads (docs/reference.md#uploads): avatars through multer + file-type + sharp, and direct uploads to S3
 * with pre-signed URLs, against a local S3-compatible server (s3rver) started here.
 */

let server: TestServer;
let s3: LocalS3;
let uploadDir: string;
let admin: Transport;
let barToken: string;
let bar: { teamId: number; userId: number };
const MAX_FILE = 300 * 1024;

beforeAll(async () => {
  uploadDir = mkdtempSync(path.join(tmpdir(), 'flux-uploads-'));
  s3 = await startLocalS3('flux-test');
  server = await startTestServer({
    upload: {
      dir: uploadDir,
      maxFileSize: MAX_FILE,
      imageConcurrency: 1,
      imageQueueLength: 2,
      s3: { ...s3.config, maxSize: 1024 * 1024, expiresIn: 120 },
    },
  });
  admin = httpTransport(server.url, await adminLogin(server.url));
  bar = await createTeamWithUser(
    admin,
    { name: 'Bar', role: 'bar' },
    { login: 'bar', password: 'bar-password' },
  );
  await createTeamWithUser(
    admin,
    { name: 'Bar 2', role: 'bar' },
    { login: 'bar2', password: 'bar2-password' },
  );
  barToken = await login(server.url, 'bar', 'bar-password');
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await s3?.stop();
  rmSync(uploadDir, { recursive: true, force: true });
});

const image = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .png()
    .toBuffer();

async function postAvatar(token: string, userId: number, file: Buffer, name = 'me.png', type = 'image/png') {
  const form = new FormData();
  form.append('avatar', new Blob([file], { type }), name);
  const response = await fetch(`${server.url}/user/avatar/${userId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const leftovers = () => readdirSync(path.join(uploadDir, 'tmp'));
/** The temporary upload goes once the response has finished (removed asynchronously, maybe just after). */
const noLeftovers = () => vi.waitUntil(() => leftovers().length === 0, { timeout: 2000 });

describe('avatars', () => {
  it('When users upload their avatar, then it is resized to fit 512×512 and served with its type and caching', async () => {
    const reply = await postAvatar(barToken, bar.userId, await image(1200, 800));
    expect(reply.status).toBe(200);
    expect(reply.body.avatarUpdatedAt).toBeTruthy();
    const response = await fetch(`${server.url}/user/avatar/${bar.userId}`, {
      headers: { authorization: `Bearer ${barToken}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
    expect(response.headers.get('cache-control')).toBe('private, max-age=300');
    expect(response.headers.get('last-modified')).toBeTruthy();
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([512, 341]);
    await noLeftovers();
  });

  it('When the avatar is fetched over the socket, then the ack carries the image bytes', async () => {
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, {
      method: 'GET',
      url: `/user/avatar/${bar.userId}`,
      headers: { authorization: `Bearer ${barToken}` },
    });
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toBe('image/webp');
    expect((await sharp(reply.data as Buffer).metadata()).format).toBe('webp');
    socket.close();
  });

  it('When a file is sent over the socket, then 400 names the HTTP route to use', async () => {
    const socket = await connectSocket(server.url);
    const reply = await socketRequest(socket, {
      method: 'POST',
      url: `/user/avatar/${bar.userId}`,
      data: { avatar: await image(10, 10) },
      headers: { authorization: `Bearer ${barToken}` },
    });
    expect(reply.statusCode).toBe(400);
    expect((reply.data as { _error: { message: string } })._error.message).toContain('POST /user/avatar/:id');
    socket.close();
  });

  it('When the file is too large, not an image (renamed), missing, or named to escape, then 4xx and nothing stays on disk', async () => {
    const huge = Buffer.concat([await image(10, 10), Buffer.alloc(MAX_FILE)]);
    expect((await postAvatar(barToken, bar.userId, huge)).status).toBe(413);
    const text = Buffer.from('#!/bin/sh\necho not an image\n'.repeat(20));
    const renamed = await postAvatar(barToken, bar.userId, text, 'photo.png', 'image/png');
    expect(renamed.status).toBe(400);
    expect(JSON.stringify(renamed.body)).toContain('File type not allowed');
    const none = await fetch(`${server.url}/user/avatar/${bar.userId}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${barToken}`, 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x--\r\n',
    });
    expect(none.status).toBe(400);
    const escaping = await postAvatar(barToken, bar.userId, await image(20, 20), '../../../../tmp/evil.png');
    expect(escaping.status).toBe(400);
    await noLeftovers();
    const everything = readdirSync(uploadDir, { recursive: true }).map(String);
    expect(everything.some((file) => file.includes('evil'))).toBe(false);
  });

  it('When someone else’s avatar is set without user/admin, then 403; an unreadable user is 404', async () => {
    const other = (await Flux.User.findOne({ where: { login: 'bar2' } }))!;
    expect((await postAvatar(barToken, other.id, await image(20, 20))).status).toBe(404);
    const mate = await createTeamWithUser(
      admin,
      { name: 'Bar 3', role: 'bar' },
      { login: 'bar3', password: 'bar3-password' },
    );
    expectStatus(await admin.request('PATCH', `/user/${mate.userId}`, { teamId: bar.teamId }), 200);
    expect((await postAvatar(barToken, mate.userId, await image(20, 20))).status).toBe(403);
    const adminToken = await adminLogin(server.url);
    expect((await postAvatar(adminToken, mate.userId, await image(20, 20))).status).toBe(200);
    const missing = await fetch(`${server.url}/user/avatar/1`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(missing.status).toBe(404);
  });
});

/** A POST of `body` as is to the avatar route of `bar` (Content-Length is the body's). */
async function postRaw(contentType: string, body: string | Buffer) {
  const response = await fetch(`${server.url}/user/avatar/${bar.userId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${barToken}`, 'content-type': contentType },
    body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A multipart/form-data body with boundary `b` and one file part of field `avatar`. */
const filePart = (disposition: string, content: Buffer) =>
  Buffer.concat([
    Buffer.from(`--b\r\nContent-Disposition: form-data; name="avatar"; ${disposition}\r\n`),
    Buffer.from('Content-Type: image/png\r\n\r\n'),
    content,
    Buffer.from('\r\n--b--\r\n'),
  ]);

/** A PNG whose header declares `width`×`height` over one real pixel of data (its CRC fixed up). */
async function declaredPng(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await image(1, 1));
  // signature (8), IHDR length (4), 'IHDR' (4), width (4), height (4), 5 more bytes, then the CRC
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

describe('image work', () => {
  it('When an image declares more pixels than upload.maxImagePixels, then 400 names the size, read before decoding', async () => {
    // 1.6 kB on the wire, 6300×6300 once decoded
    const webp = await sharp({
      create: { width: 6300, height: 6300, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .webp({ lossless: true })
      .toBuffer();
    expect(webp.length).toBeLessThan(4096);
    const before = (await Flux.User.findByPk(bar.userId))!.avatarUpdatedAt;
    for (const [file, name, type] of [
      [webp, 'big.webp', 'image/webp'],
      [await declaredPng(50_000, 50_000), 'bomb.png', 'image/png'],
    ] as const) {
      const reply = await postAvatar(barToken, bar.userId, file, name, type);
      expect(reply).toEqual({
        status: 400,
        body: {
          _error: {
            status: 400,
            code: 'BadRequest',
            message: expect.stringMatching(
              /^The image is too large: \d+×\d+ pixels, at most 16777216 in all$/,
            ),
          },
        },
      });
    }
    expect((await Flux.User.findByPk(bar.userId))!.avatarUpdatedAt).toEqual(before);
    await noLeftovers();
  });

  it('When many images arrive at once, then at most upload.imageConcurrency are processed together and past the queue length the others get 503 Busy', async () => {
    const { imageConcurrency, imageQueueLength } = Flux.config.upload;
    expect([imageConcurrency, imageQueueLength]).toEqual([1, 2]);
    // a few kB each, 16 M pixels to decode: each takes a while on the pool
    const heavy = await image(4000, 4000);
    expect(heavy.length).toBeLessThan(MAX_FILE);
    const peakBefore = imageWork().peak;
    expect(peakBefore).toBeLessThanOrEqual(1);
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => postAvatar(barToken, bar.userId, heavy)),
    );
    const statuses = replies.map((reply) => reply.status).sort();
    expect(imageWork().peak).toBe(1);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(replies.find((reply) => reply.status === 503)?.body).toEqual({
      _error: {
        status: 503,
        code: 'Busy',
        message: 'Too many images are being processed: retry in a moment',
      },
    });
    expect(imageWork()).toMatchObject({ active: 0, waiting: 0 });
    await noLeftovers();
  });
});

describe('malformed multipart bodies', () => {
  const partHeader = '--b\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n';
  it.each([
    ['no boundary', 'multipart/form-data', `${partHeader}\r\nx\r\n--b--\r\n`],
    ['a boundary that never comes', 'multipart/form-data; boundary=b', 'just text, no part at all'],
    ['no part at all', 'multipart/form-data; boundary=b', ''],
    [
      'a body cut off inside a file',
      'multipart/form-data; boundary=b',
      `${partHeader}\r\n\x89PNG\r\n\x1a\n0123`,
    ],
    ['a body cut off inside a part header', 'multipart/form-data; boundary=b', '--b\r\nContent-Dispos'],
    [
      'a part header that never ends',
      'multipart/form-data; boundary=b',
      `${partHeader}X-Pad: ${'a'.repeat(90_000)}`,
    ],
    [
      'a part header with too many lines',
      'multipart/form-data; boundary=b',
      `${partHeader}${'X-Pad: 1\r\n'.repeat(3000)}\r\nx\r\n--b--\r\n`,
    ],
    ['another multipart type', 'multipart/mixed; boundary=b', `${partHeader}\r\nx\r\n--b--\r\n`],
  ])(
    'When the body has %s, then 400 BadRequest, nothing stored, nothing logged as an error',
    async (_what, type, body) => {
      const errors = vi.spyOn(Flux.log, 'error');
      try {
        const reply = await postRaw(type, body);
        expect(reply).toEqual({
          status: 400,
          body: {
            _error: {
              status: 400,
              code: 'BadRequest',
              message: expect.stringMatching(/^Malformed multipart body: /),
            },
          },
        });
        expect(JSON.stringify(reply.body)).not.toContain('boundary=b');
        await noLeftovers();
        expect(errors).not.toHaveBeenCalled();
        // the server is alive and well
        expect((await postAvatar(barToken, bar.userId, await image(16, 16))).status).toBe(200);
      } finally {
        errors.mockRestore();
      }
    },
  );

  it('When a client hangs up in the middle of a file, then the partial file is removed and nothing is logged as an error', async () => {
    const errors = vi.spyOn(Flux.log, 'error');
    try {
      const { port } = new URL(server.url);
      const part = Buffer.concat([
        Buffer.from(`${partHeader}Content-Type: image/png\r\n\r\n`),
        await image(64, 64),
      ]);
      const client = net.connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      client.write(
        `POST /user/avatar/${bar.userId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${barToken}\r\n` +
          `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${part.length + 100_000}\r\n\r\n`,
      );
      client.write(part);
      // the temporary file exists once multer has started writing it, then the client is gone
      await vi.waitUntil(() => leftovers().length > 0, { timeout: 2000 });
      client.destroy();
      await noLeftovers();
      expect(errors).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });
});

describe('client file names', () => {
  it.each([
    ['../../x.png', 'filename="../../x.png"'],
    ['..\\x.png', 'filename="..\\\\x.png"'],
    ['a/b.png', 'filename="a/b.png"'],
    ['/etc/x.png', 'filename="/etc/x.png"'],
    ['..', 'filename=".."'],
    ['a NUL', "filename*=UTF-8''a%00.png"],
    ['a line break', 'filename="a%0Ab.png"'],
    ['an escape sequence', "filename*=UTF-8''a%1B%5B31m.png"],
    ['an RFC 5987 path', "filename*=UTF-8''..%2F..%2Fx.png"],
  ])('When the file name is %s, then 400 and nothing is stored', async (_what, disposition) => {
    const before = await Flux.User.findByPk(bar.userId);
    const reply = await postRaw(
      'multipart/form-data; boundary=b',
      filePart(disposition, await image(16, 16)),
    );
    expect(reply).toEqual({
      status: 400,
      body: {
        _error: { status: 400, code: 'BadRequest', message: expect.stringMatching(/^Refused file name: /) },
      },
    });
    await noLeftovers();
    expect((await Flux.User.findByPk(bar.userId))!.avatarUpdatedAt).toEqual(before!.avatarUpdatedAt);
  });

  it('When the file name is plain, even with dots and spaces, then the avatar is stored', async () => {
    const reply = await postRaw(
      'multipart/form-data; boundary=b',
      filePart('filename="my photo..v2.png"', await image(16, 16)),
    );
    expect(reply.status).toBe(200);
    await noLeftovers();
  });
});

describe('direct uploads to S3', () => {
  it('When a user presigns, PUTs to the URL and confirms, then the upload is recorded under its key', async () => {
    const bar1 = httpTransport(server.url, barToken);
    const content = Buffer.from('%PDF-1.4 a small pdf document');
    const presigned = expectStatus<{ uploadUrl: string; key: string; expiresIn: number }>(
      await bar1.request('POST', '/upload/presign', {
        filename: '../Stock report.pdf',
        contentType: 'application/pdf',
        size: content.length,
      }),
      200,
    );
    expect(presigned.expiresIn).toBe(120);
    expect(presigned.key).toMatch(new RegExp(`^1/${bar.userId}/[0-9a-f-]{36}-Stock_report\\.pdf$`));
    const put = await fetch(presigned.uploadUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/pdf' },
      body: content,
    });
    expect(put.status).toBe(200);
    const upload = expectStatus(await bar1.request('POST', '/upload/confirm', { key: presigned.key }), 201);
    expect(upload).toMatchObject({
      key: presigned.key,
      userId: bar.userId,
      size: content.length,
      filename: 'Stock_report.pdf',
    });
    expect(expectStatus<unknown[]>(await bar1.request('GET', '/upload'), 200)).toHaveLength(1);
    expectStatus(await bar1.request('POST', '/upload/confirm', { key: presigned.key }), 400);
    const usage = expectStatus<{ storageBytes: number }>(await admin.request('GET', '/tenant/1/usage'), 200);
    expect(usage.storageBytes).toBeGreaterThanOrEqual(content.length);
  });

  it('When a URL is presigned, then it signs the content type and the length, and expires', async () => {
    const bar1 = httpTransport(server.url, barToken);
    const presigned = expectStatus<{ uploadUrl: string; key: string }>(
      await bar1.request('POST', '/upload/presign', {
        filename: 'a.png',
        contentType: 'image/png',
        size: 10,
      }),
      200,
    );
    // S3 refuses a PUT whose signed headers differ (the local server does not check them all)
    const url = new URL(presigned.uploadUrl);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type']),
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(url.pathname).toBe(`/flux-test/${presigned.key}`);
    expectStatus(await bar1.request('POST', '/upload/confirm', { key: presigned.key }), 400);
  });

  it('When a presign or confirm is out of bounds, then 400', async () => {
    const bar1 = httpTransport(server.url, barToken);
    expectStatus(
      await bar1.request('POST', '/upload/presign', {
        filename: 'x.exe',
        contentType: 'application/x-msdownload',
        size: 10,
      }),
      400,
    );
    expectStatus(
      await bar1.request('POST', '/upload/presign', {
        filename: 'x.pdf',
        contentType: 'application/pdf',
        size: 10 * 1024 * 1024,
      }),
      400,
    );
    expectStatus(
      await bar1.request('POST', '/upload/presign', { filename: 'x.pdf', contentType: 'application/pdf' }),
      400,
    );
    expectStatus(await bar1.request('POST', '/upload/confirm', { key: '1/999/someone-else.pdf' }), 400);
    expectStatus(await bar1.request('POST', '/upload/confirm', { key: `1/${bar.userId}/../../x` }), 400);
    expectStatus(
      await bar1.request('POST', '/upload/confirm', { key: `1/${bar.userId}/never-uploaded.pdf` }),
      400,
    );
  });
});
