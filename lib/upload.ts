import { mkdirSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { fileTypeFromFile } from 'file-type';
import multer from 'multer';
import { BadRequestError, ExpectedError } from './errors.js';

/**
 * Multipart uploads of `file` routes (docs/reference.md#uploads): multer stores the single file of the
 * route's field under a random name in `<dir>/tmp` (the client's file name is never used as a path), with
 * size and count limits (413 / 400; multer removes a partial file itself); then the type is read from the
 * file's content with file-type (magic bytes) and checked against the allow-list — a renamed extension does
 * not pass. Text has no magic bytes: a file file-type does not recognize passes as the allow-list's first
 * `text/*` type (e.g. `text/csv`), if it has one, when its first 64 KiB are UTF-8 without control characters
 * other than tab, line feed and carriage return ({@link textType}); whether the text is well-formed CSV is
 * for the action to check. Refused files are deleted. The action receives `req.file` ({path, size,
 * mimetype = detected type, originalname}) and must move or delete it.
 *
 * Refused with 400 `BadRequest` before anything is stored: a malformed multipart body (no boundary, a
 * part header that never ends, a body that ends inside a part, a type other than multipart/form-data)
 * and a client file name that names a path (`/`, `\`, `.` or `..`, control characters). Errors of the
 * disk itself stay unexpected (500).
 */
export interface UploadOptions {
  dir: string;
  maxFileSize: number;
  maxFiles: number;
  mimeTypes: readonly string[];
}

export function uploadMiddleware(field: string, options: UploadOptions): RequestHandler[] {
  const tmp = path.join(options.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const multipart = multer({
    dest: tmp,
    // the client's name as sent, so that a name that climbs directories is refused rather than silently
    // cut to its last segment (it is never used as a path either way)
    preservePath: true,
    fileFilter: (_req, file, accept) => {
      const problem = fileNameProblem(file.originalname);
      if (problem) accept(new BadRequestError(`Refused file name: ${problem}`));
      else accept(null, true);
    },
    limits: {
      fileSize: options.maxFileSize,
      files: options.maxFiles,
      fields: 20,
      fieldSize: 64 * 1024,
      parts: 30,
    },
  }).single(field);
  const receive = function receiveUpload(req: Request, res: Response, next: NextFunction) {
    multipart(req, res, (err?: unknown) => next(err === undefined ? undefined : asUploadError(err)));
  };
  const checkContent = async function checkUploadContent(req: Request, _res: Response, next: NextFunction) {
    const file = req.file;
    if (!file) throw new BadRequestError(`Send the file as multipart/form-data field "${field}"`);
    const detected =
      (await fileTypeFromFile(file.path).catch(() => undefined))?.mime ??
      (await textType(file.path, options.mimeTypes).catch(() => undefined));
    if (!detected || !options.mimeTypes.includes(detected)) {
      await unlink(file.path).catch(() => undefined);
      throw new BadRequestError(`File type not allowed: send ${options.mimeTypes.join(', ')}`);
    }
    file.mimetype = detected;
    next();
  };
  // if anything after the upload fails, the temporary file must not stay behind
  const cleanUp = function removeUploadOnFailure(req: Request, res: Response, next: NextFunction) {
    const remove = () => {
      if (req.file?.path) unlink(req.file.path).catch(() => undefined);
    };
    res.once('finish', remove);
    res.once('close', remove); // an aborted request never finishes
    next();
  };
  return [receive, cleanUp, checkContent];
}

/**
 * Runs an upload chain built by {@link uploadMiddleware} from inside an action, for a route that decides
 * itself when to read the body (after a permission check) and with which limits; resolves with the file,
 * which the action must delete (it is also removed when the response ends, like a `file` route's).
 * @throws what the chain throws: 400 (malformed multipart, no file, a refused type or name), 413 (too large)
 * @example const file = await receiveUpload(req, res, uploadMiddleware('file', options));
 */
export async function receiveUpload(
  req: Request,
  res: Response,
  chain: RequestHandler[],
): Promise<Express.Multer.File> {
  for (const handler of chain) {
    await new Promise<void>((resolve, reject) => {
      const next = (err?: unknown) => (err === undefined || err === null ? resolve() : reject(err));
      Promise.resolve(handler(req, res, next)).catch(reject);
    });
  }
  if (!req.file) throw new BadRequestError('Send the file as multipart/form-data');
  return req.file;
}

/** Bytes of a file's start that {@link textType} reads. */
const textSniffBytes = 64 * 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const nonTextCharacter = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * The first `text/*` type of `allowed` when the file at `file` reads as text: its first 64 KiB are UTF-8
 * (a sequence cut at that boundary is fine) without control characters other than tab, line feed and
 * carriage return — an empty file too; undefined otherwise, or when `allowed` names no text type.
 */
export async function textType(file: string, allowed: readonly string[]): Promise<string | undefined> {
  const type = allowed.find((mime) => mime.startsWith('text/'));
  if (!type) return undefined;
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(textSniffBytes), 0, textSniffBytes, 0);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, bytesRead), {
        stream: true,
      });
    } catch {
      return undefined;
    }
    return nonTextCharacter.test(text) ? undefined : type;
  } finally {
    await handle.close();
  }
}

/**
 * Why a client file name is refused, or undefined when it is a plain name: a path separator (`/`, `\\`),
 * a name that is `.` or `..`, or a control character (NUL included).
 */
export function fileNameProblem(name: string): string | undefined {
  if (/[/\\]/.test(name)) return 'it contains a path separator';
  if (name === '.' || name === '..') return 'it names a directory';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'it contains a control character';
  return undefined;
}

/** busboy's and multer's messages for a body that is not well-formed multipart, as told to the client. */
const malformedMultipart: Array<[RegExp, string]> = [
  [/^Multipart: Boundary not found$/, 'the Content-Type has no boundary'],
  [/^(Malformed content type|Missing Content-Type)$/, 'the Content-Type cannot be read'],
  [/^Unsupported content type/, 'send multipart/form-data'],
  [/^Malformed part header$/, 'a part header is malformed or too long'],
  [/^Unexpected end of (form|file)$/, 'the body ends inside a part'],
  [/^Request (aborted|closed|error)$/, 'the upload was interrupted'],
];

/**
 * What the multipart parser's error means for the client. Multer's own limit errors and Flux errors pass
 * as they are (`fromLibraryError` maps the former); an error of the disk (a system error on a file path:
 * ENOSPC, EACCES…) stays unexpected; anything else comes from reading the client's body: 400, with a
 * fixed message (the parser's may quote the request's Content-Type).
 */
function asUploadError(err: unknown): unknown {
  if (err instanceof ExpectedError || (err as { name?: unknown })?.name === 'MulterError') return err;
  const {
    syscall,
    path: file,
    message,
  } = (err ?? {}) as { syscall?: unknown; path?: unknown; message?: unknown };
  if (typeof syscall === 'string' && typeof file === 'string') return err;
  const text = typeof message === 'string' ? message : '';
  const reason = malformedMultipart.find(([pattern]) => pattern.test(text))?.[1] ?? 'it cannot be parsed';
  return new BadRequestError(`Malformed multipart body: ${reason}`);
}
