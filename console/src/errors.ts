import { FluxError } from '@flux/client';

/** A sentence for an error shown to the user: the server's message, or what went wrong on the way. */
export function describeError(error: unknown): string {
  if (error instanceof FluxError) {
    if (error.status === 0) return 'The server cannot be reached. Check the network and try again.';
    if (error.status === 429) return `${error.message} Try again in a moment.`;
    const first = error.validation?.[0];
    return first ? `${error.message}: ${first.path} ${first.message}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
