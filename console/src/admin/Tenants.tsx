import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage, TextField } from '../fields';
import { session } from '../state';
import { FormDialog, formatTime, PageHead, useAction } from './ui';

interface Tenant {
  id: number;
  name: string;
  slug: string;
  createdAt: string;
}

/** `GET /tenant/:id/usage`. */
interface Usage {
  tenantId: number;
  rows: Record<string, number>;
  sockets: number;
  storageBytes: number;
}

/**
 * The events sharing this server, for the platform operator (`tenant/admin`, listed by /auth/me only in the
 * operator's own tenant): list, create (with the event's first admin), usage, and "Sign in to this event".
 * Tenants are not followed by live queries (no subscription for them): the list is read when the page
 * opens, after a creation and on Refresh.
 */
export function Tenants() {
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [turn, setTurn] = useState(0);
  const client = session.client.value;
  const own = session.me.value?.tenant.slug;

  useEffect(() => {
    let gone = false;
    client.request<Tenant[]>('GET', '/tenant').then(
      ({ data }) => {
        if (gone) return;
        setTenants(data);
        setError(null);
      },
      (caught: unknown) => !gone && setError(describeError(caught)),
    );
    return () => {
      gone = true;
    };
  }, [client, turn]);

  return (
    <section aria-labelledby="tenants-title">
      <PageHead id="tenants-title" title="Events (tenants)" count={tenants?.length}>
        <button type="button" class="secondary" onClick={() => setTurn(turn + 1)}>
          Refresh
        </button>
        <button type="button" onClick={() => setCreating(true)}>
          New event
        </button>
      </PageHead>
      <ErrorMessage text={error} />
      {tenants && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Slug</th>
              <th scope="col">Created</th>
              <th scope="col">Usage</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tenants.map((tenant) => (
              <tr key={tenant.id} data-tenant={tenant.slug}>
                <th scope="row" data-label="Event">
                  {tenant.name}
                  {tenant.slug === own && <span class="badge">you are here</span>}
                </th>
                <td data-label="Slug">
                  <code>{tenant.slug}</code>
                </td>
                <td class="time" data-label="Created">
                  {formatTime(tenant.createdAt)}
                </td>
                <td data-label="Usage">
                  <TenantUsage id={tenant.id} />
                </td>
                <td class="row-actions">
                  {tenant.slug !== own && (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Sign in to ${tenant.name}`}
                      onClick={() => void session.signOutTo(tenant.slug)}
                    >
                      Sign in to this event
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <TenantForm onClose={() => setCreating(false)} onCreated={() => setTurn((value) => value + 1)} />
      )}
    </section>
  );
}

/** A tenant's usage, read when asked for (it counts the rows of every model). */
function TenantUsage({ id }: { id: number }) {
  const [usage, setUsage] = useState<Usage | null>(null);
  const action = useAction();
  if (!usage)
    return (
      <>
        <button
          type="button"
          class="secondary small"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              const { data } = await session.client.value.request<Usage>('GET', `/tenant/${id}/usage`);
              setUsage(data);
            })
          }
        >
          Show usage
        </button>
        {action.error && <span class="error"> {action.error}</span>}
      </>
    );
  const { rows } = usage;
  return (
    <span class="usage">
      {rows.user ?? 0} users · {rows.team ?? 0} teams · {rows.alert ?? 0} alerts · {rows.message ?? 0}{' '}
      messages · {usage.sockets} sockets · {formatBytes(usage.storageBytes)}
    </span>
  );
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** A new tenant with its first admin, who signs in with the tenant's slug in the Event field. */
function TenantForm({ onClose, onCreated }: { onClose(): void; onCreated(): void }) {
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [login, setLogin] = useState('admin');
  const [password, setPassword] = useState('');
  const action = useAction();
  const save = async () => {
    const done = await action.run(() =>
      session.client.value.request('POST', '/tenant', {
        name: name.trim(),
        slug: slug.trim(),
        admin: { login: login.trim(), password },
      }),
    );
    if (done) onCreated();
    return done;
  };
  return (
    <FormDialog
      title="New event"
      open
      onClose={onClose}
      onSubmit={save}
      action={action}
      submitLabel="Create event"
    >
      <TextField label="Name" name="name" required value={name} onValue={setName} />
      <TextField
        label="Slug"
        hint="(lower-case letters, digits and dashes: what its users type in the Event field)"
        name="slug"
        required
        pattern="[a-z0-9\-]+"
        value={slug}
        onValue={setSlug}
      />
      <TextField
        label="Admin login"
        name="adminLogin"
        required
        autoComplete="off"
        value={login}
        onValue={setLogin}
      />
      <TextField
        label="Admin password"
        name="adminPassword"
        type="password"
        required
        autoComplete="new-password"
        value={password}
        onValue={setPassword}
      />
    </FormDialog>
  );
}
