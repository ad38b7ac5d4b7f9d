import type { z } from 'zod';
import { BadRequestError } from './errors.js';

/**
 * Validates an action's input with a zod schema.
 * @returns the parsed value (unknown keys stripped by `z.object`).
 * @throws BadRequestError 400 `ValidationError` with one `{path, message, type}` per issue.
 */
export function validate<T extends z.ZodType>(schema: T, data: unknown): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const validation = result.error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
    type: issue.code,
  }));
  throw new BadRequestError('Invalid data', validation);
}
