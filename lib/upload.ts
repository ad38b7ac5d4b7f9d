import { mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { fileTypeFromFile } from 'file-type';
import multer from 'multer';
import { BadRequestError } from './errors.js';

/**
 * Multipart uploads of `file` routes (SPEC §14): multer stores the single file of the route's field under
 * a random name in `<dir>/tmp` (the client's file name is never used as a path), with size and count
 * limits (413 / 400; multer removes a partial file itself); then the type is read from the file's content
 * with file-type (magic bytes) and checked against the allow-list — a renamed extension does not pass.
 * Refused files are deleted. The action receives `req.file` ({path, size, mimetype = detected type,
 * originalname}) and must move or delete it.
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
  const receive = multer({
    dest: tmp,
    limits: {
      fileSize: options.maxFileSize,
      files: options.maxFiles,
      fields: 20,
      fieldSize: 64 * 1024,
      parts: 30,
    },
  }).single(field);
  const checkContent = async function checkUploadContent(req: Request, _res: Response, next: NextFunction) {
    const file = req.file;
    if (!file) throw new BadRequestError(`Send the file as multipart/form-data field "${field}"`);
    const detected = await fileTypeFromFile(file.path).catch(() => undefined);
    if (!detected || !options.mimeTypes.includes(detected.mime)) {
      await unlink(file.path).catch(() => undefined);
      throw new BadRequestError(`File type not allowed: send ${options.mimeTypes.join(', ')}`);
    }
    file.mimetype = detected.mime;
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
