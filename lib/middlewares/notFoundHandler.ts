import { NotFoundError } from '../errors.js';

/** Last route: nothing matched, 404 `NotFound` (SPEC §7). */
export function notFoundHandler(): never {
  throw new NotFoundError('Unknown route');
}
