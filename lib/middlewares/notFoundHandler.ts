import { NotFoundError } from '../errors.js';

/** Last route: nothing matched, 404 `NotFound` (docs/reference.md#errors). */
export function notFoundHandler(): never {
  throw new NotFoundError('Unknown route');
}
