/**
 * Where a client keeps its token between calls (and, with {@link webStorage}, between page loads). Plain
 * synchronous get/set so that the socket.io `auth` callback can read it at every (re)connection.
 */
export interface TokenStorage {
  get(): string | null;
  set(token: string | null): void;
}

/** The part of the Web Storage API (`localStorage`, `sessionStorage`) a {@link webStorage} needs. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Keeps the token in memory: gone with the page or process (the default). */
export function memoryStorage(initial: string | null = null): TokenStorage {
  let token = initial;
  return {
    get: function getMemoryToken() {
      return token;
    },
    set: function setMemoryToken(value) {
      token = value;
    },
  };
}

/**
 * Keeps the token in a `localStorage`-compatible store under `key`.
 * @example createClient({ url, storage: webStorage(window.localStorage) })
 */
export function webStorage(store: WebStorageLike, key = 'flux:token'): TokenStorage {
  return {
    get: function getStoredToken() {
      return store.getItem(key);
    },
    set: function setStoredToken(value) {
      if (value === null) store.removeItem(key);
      else store.setItem(key, value);
    },
  };
}
