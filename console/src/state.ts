import { createClient, decodeToken, type FluxClient, FluxError, type Item, webStorage } from '@flux/client';
import { computed, effect, signal } from '@preact/signals';
import { describeError } from './errors';

/** What `GET /auth/me` answers: the signed-in user, the team, the tenant and the team's permissions. */
export interface Me {
  user: Item<'user'>;
  team: Item<'team'> | null;
  tenant: { id: number; name: string; slug: string };
  /** `<namespace>/<level>` strings, e.g. `alert/admin` (docs/permissions.md). */
  permissions: string[];
}

/** The socket's state as shown in the header: no network, socket.io retrying, or connected. */
export type Connection = 'offline' | 'reconnecting' | 'live';

/** Why the user is on the sign-in page, when it was not their own choice. */
export type SignedOutReason = 'revoked' | 'expired' | null;

const TENANT_KEY = 'flux:console:tenant';
const TOKEN_KEY = 'flux:console:token';

/**
 * The console's session: one `@flux/client` for the chosen tenant (its token in `localStorage`, so a
 * reload stays signed in), the user's `/auth/me` and the socket's state, as signals every page reads.
 * Switching tenant closes the client and opens another (the tenant only matters for anonymous requests,
 * such as the sign-in).
 */
export class ConsoleSession {
  /** The tenant slug sign-in requests name (`x-tenant`); '' lets the server decide (host name, default). */
  readonly tenant = signal(localStorage.getItem(TENANT_KEY) ?? '');
  readonly client = signal<FluxClient>(this.open(this.tenant.value));
  /** `undefined` while it is being read, `null` when signed out. */
  readonly me = signal<Me | null | undefined>(undefined);
  readonly connection = signal<Connection>('reconnecting');
  readonly signedOut = signal<SignedOutReason>(null);
  readonly permissions = computed(() => new Set(this.me.value?.permissions ?? []));
  /** Why the first read of `/auth/me` failed, while the console keeps trying (shown instead of "Loading…"). */
  readonly loadError = signal<string | null>(null);
  private stopListening: () => void = () => {};
  private identity: { key: string; close(): void } | null = null;
  private retryNow: () => void = () => {};

  constructor() {
    this.follow(this.client.value);
    effect(() => this.watchIdentity(this.me.value, this.client.value));
    this.watchOtherTabs();
    void this.load();
  }

  /**
   * The token is shared by every tab of this browser (one `localStorage` key, read by the client at each
   * request): when another tab signs in as someone else or signs out, this tab starts again from the new
   * token rather than showing one user while acting as another. A refresh (the same session) changes
   * nothing.
   */
  private watchOtherTabs(): void {
    const sessionOf = (token: string | null) => (token ? (decodeToken(token)?.sessionId ?? null) : null);
    window.addEventListener('storage', (event) => {
      if (event.storageArea !== localStorage) return;
      const cleared = event.key === null && this.me.value;
      if (cleared || (event.key === TOKEN_KEY && sessionOf(event.oldValue) !== sessionOf(event.newValue)))
        location.reload();
    });
  }

  /**
   * The first read of `/auth/me` with a stored token, tried again until it answers: after 1 s doubling to
   * 15 s, at once when the socket connects or the browser is back online, or on `retry()`. A tablet that
   * starts before the network or the server must end up signed in, not stuck on "Loading…".
   */
  private async load(): Promise<void> {
    let waitMs = 1_000;
    while (this.me.value === undefined) {
      try {
        await this.reload();
        break;
      } catch (error) {
        this.loadError.value = describeError(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.retryNow = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      waitMs = Math.min(waitMs * 2, 15_000);
    }
    this.retryNow = () => {};
    this.loadError.value = null;
  }

  /** Tries the first read again now (the "Retry" of the loading page). */
  retry(): void {
    this.retryNow();
  }

  /** True when the user's team holds `permission` (`team/admin`), or `<namespace>/admin` for any level. */
  can(permission: string): boolean {
    const held = this.permissions.value;
    return held.has(permission) || held.has(`${permission.split('/')[0]}/admin`);
  }

  /** Signs in with a login and a password (`POST /auth/login`). @throws {FluxError} 401, 429… */
  async login(login: string, password: string, tenant: string): Promise<void> {
    this.useTenant(tenant);
    await this.client.value.login(login, password);
    await this.reload();
  }

  /** Signs in as the user whose `ip` is this device's address (`POST /auth/ip`). @throws {FluxError} 401 */
  async loginByIp(tenant: string): Promise<void> {
    this.useTenant(tenant);
    await this.client.value.loginByIp();
    await this.reload();
  }

  async logout(): Promise<void> {
    await this.client.value.logout();
  }

  /**
   * Signs out and shows the sign-in page with `tenant`'s slug in its Event field: the platform operator
   * going to an event. The old client's events are left unheard meanwhile, so that the sign-in page does not
   * show (and read its Event field) before the slug is set.
   */
  async signOutTo(tenant: string): Promise<void> {
    if (tenant !== this.tenant.value) this.stopListening();
    try {
      await this.logout();
    } finally {
      this.useTenant(tenant);
      this.signedOut.value = null;
      this.me.value = null;
    }
  }

  /**
   * Reads `/auth/me` again (after a sign-in, or when the team's permissions may have changed).
   * @throws {FluxError} when it could not be read (no network, 429, 5xx) and the session did not end.
   */
  async reload(): Promise<void> {
    const client = this.client.value;
    if (!client.token) {
      this.me.value = null;
      return;
    }
    try {
      const { data } = await client.request<Me>('GET', '/auth/me');
      if (client === this.client.value) this.me.value = data;
    } catch (error) {
      // a refused token has ended the session (its auth event was emitted): signed out
      if (error instanceof FluxError && client === this.client.value && !client.token) {
        this.me.value = null;
        return;
      }
      throw error;
    }
  }

  /**
   * Keeps `/auth/me` current: live queries on the user's own row and team (always readable) read it again
   * when either changes — a team moved to another role or group, the user moved to another team, a name —
   * on whatever page is open. (`subscription:refresh` only reaches a socket whose rooms changed: a page
   * without live lists would miss it.)
   */
  private watchIdentity(me: Me | null | undefined, client: FluxClient): void {
    const key = me ? `${me.user.id}:${me.team?.id ?? ''}` : '';
    if (this.identity?.key === key) return;
    this.identity?.close();
    this.identity = null;
    if (!me) return;
    // an ended session empties the lists: that is the auth event's to handle, not a change to read
    const reload = () => {
      if (client.token) this.reload().catch(() => {});
    };
    const lists = [
      client.live('user', { filters: { id: me.user.id } }),
      ...(me.team ? [client.live('team', { filters: { id: me.team.id } })] : []),
    ];
    const stops = lists.map((list) => {
      list.ready.catch(() => {}); // a failed read is tried again by the client; nothing to show here
      return list.subscribe(reload);
    });
    this.identity = {
      key,
      close: () => {
        for (const stop of stops) stop();
        for (const list of lists) list.close();
      },
    };
  }

  private useTenant(tenant: string): void {
    const slug = tenant.trim().toLowerCase();
    localStorage.setItem(TENANT_KEY, slug);
    if (slug === this.tenant.value) return;
    this.stopListening();
    this.client.value.close();
    this.tenant.value = slug;
    this.client.value = this.open(slug);
    this.follow(this.client.value);
  }

  private open(tenant: string): FluxClient {
    return createClient({
      url: location.origin,
      tenant: tenant || undefined,
      storage: webStorage(localStorage, TOKEN_KEY),
    });
  }

  /** Follows the client's session and socket into the signals. */
  private follow(client: FluxClient): void {
    const socket = client.socket!;
    const update = () => {
      this.connection.value = socket.connected ? 'live' : navigator.onLine ? 'reconnecting' : 'offline';
      // the server or the network is back: a first read still waiting goes now
      if (this.connection.value !== 'offline') this.retryNow();
    };
    const stopAuth = client.on('auth', ({ type }) => {
      if (type === 'login') this.signedOut.value = null;
      if (type === 'revoked' || type === 'expired' || type === 'logout') {
        this.signedOut.value = type === 'logout' ? null : type;
        this.me.value = null;
      }
    });
    // the team's role or the user's team changed: what the console offers may have changed too
    const onRefresh = () => void this.reload().catch(() => {});
    socket.on('connect', update);
    socket.on('disconnect', update);
    socket.on('subscription:refresh', onRefresh);
    socket.io.on('reconnect_attempt', update);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    update();
    this.stopListening = () => {
      stopAuth();
      socket.off('connect', update);
      socket.off('disconnect', update);
      socket.off('subscription:refresh', onRefresh);
      socket.io.off('reconnect_attempt', update);
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }
}

export const session = new ConsoleSession();
