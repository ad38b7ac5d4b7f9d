import { FluxError } from '@flux/client';
import pLimit from 'p-limit';
import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { session } from '../state';

/**
 * Sends a file as `multipart/form-data` over HTTP with the session's token: the client's `request()`
 * speaks JSON only, and the server takes files over HTTP only. Resolves the JSON reply.
 * @throws {FluxError} the server's refusal (400, 403, 413…), or status 0 when it cannot be reached
 */
export async function uploadFile<T>(url: string, field: string, file: Blob, name?: string): Promise<T> {
  const client = session.client.value;
  const body = new FormData();
  body.append(field, file, name);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      body,
      headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
    });
  } catch {
    throw new FluxError(0, 'NetworkError', 'The server cannot be reached');
  }
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) throw FluxError.fromReply(response.status, data);
  return data as T;
}

/**
 * Avatar reads at once, for the whole page: a list of 500 users must not send 500 requests together (they
 * count against the rate limit of the address, which a venue's tablets often share behind one NAT).
 */
const avatarReads = pLimit(4);

/**
 * True once the element has been on screen (IntersectionObserver): an avatar scrolled past is never read.
 * It stays true, so that scrolling back does not read it again.
 */
export function useSeen(ref: RefObject<Element | null>): boolean {
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (seen || !element) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) setSeen(true);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref, seen]);
  return seen;
}

/**
 * A user's avatar as a `blob:` URL (`GET /user/avatar/:id` needs the bearer token, so an `<img src>`
 * cannot load it): read again when `version` (the user's `avatarUpdatedAt`) moves, revoked when it changes
 * or the component goes; at most four reads at once. null while loading, or when the user has none (or
 * `version` is null: not to be read, e.g. not on screen yet).
 */
export function useAvatar(userId: number, version: string | null): string | null {
  const [url, setUrl] = useState<string | null>(null);
  const token = session.client.value.token;
  useEffect(() => {
    if (!version || !token) {
      setUrl(null);
      return;
    }
    let objectUrl: string | null = null;
    let gone = false;
    const controller = new AbortController();
    avatarReads(() =>
      controller.signal.aborted
        ? null
        : fetch(`/user/avatar/${userId}`, {
            headers: { authorization: `Bearer ${token}` },
            signal: controller.signal,
          }).then((response) => (response.ok ? response.blob() : null)),
    )
      .then((blob) => {
        if (gone || !blob) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => undefined); // no avatar shown: the initials stay
    return () => {
      gone = true;
      controller.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [userId, version, token]);
  return url;
}
