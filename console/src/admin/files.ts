import { FluxError } from '@flux/client';
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
 * A user's avatar as a `blob:` URL (`GET /user/avatar/:id` needs the bearer token, so an `<img src>`
 * cannot load it): read again when `version` (the user's `avatarUpdatedAt`) moves, revoked when it changes
 * or the component goes. null while loading, or when the user has none.
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
    fetch(`/user/avatar/${userId}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    })
      .then((response) => (response.ok ? response.blob() : null))
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
