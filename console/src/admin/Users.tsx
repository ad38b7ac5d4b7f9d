import type { Item } from '@flux/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorMessage, TextField } from '../fields';
import { useLive } from '../live';
import { session } from '../state';
import { uploadFile, useAvatar, useSeen } from './files';
import { canGrant, useRoles } from './roles';
import { EditDeleteButtons, FormDialog, ListState, orNull, PageHead, useAction } from './ui';

type User = Item<'user'>;
type Team = Item<'team'>;

/** How many users the list shows at most (a live window; the search finds the others). */
const LIMIT = 500;

/** `value`, once it has not changed for `delayMs`: a search does not open a live query per keystroke. */
function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

/**
 * Users (`user/admin`): the live list with avatars; create with a password; edit name, team, e-mail and
 * address (`ip`, for sign-in as a device); upload an avatar; delete.
 */
export function Users() {
  const [typed, setTyped] = useState('');
  const query = useDebounced(typed.trim(), 250);
  // `%` and `_` typed by the user are wildcards of LIKE too: harmless, they only widen the search
  const pattern = `%${query.slice(0, 50)}%`;
  const users = useLive('user', {
    filters: query ? { or: [{ login: { like: pattern } }, { name: { like: pattern } }] } : undefined,
    sort: ['login'],
    limit: LIMIT,
  });
  const teams = useLive('team', { sort: ['name'], limit: 1000 });
  const roles = useRoles();
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const remove = useAction();
  const teamOf = (user: User) => teams.items.find((team) => team.id === user.teamId);
  // acting on a user is acting on their team's role: only on users whose role this user holds entirely
  const mayChange = (user: User) => {
    const team = teamOf(user);
    return user.id === session.me.value?.user.id || !team || canGrant(roles, team.role);
  };

  const destroy = (user: User) => {
    if (!confirm(`Delete the user "${user.login}"? Their sessions end at once.`)) return;
    void remove.run(() => session.client.value.service('user').remove(user.id));
  };

  return (
    <section aria-labelledby="users-title">
      <PageHead id="users-title" title="Users" count={users.items.length}>
        <label class="inline">
          <span class="visually-hidden">Search users</span>
          <input
            type="search"
            name="search"
            placeholder="Search login or name"
            value={typed}
            onInput={(e) => setTyped(e.currentTarget.value)}
          />
        </label>
        <button type="button" onClick={() => setEditing('new')}>
          New user
        </button>
      </PageHead>
      <ErrorMessage text={remove.error} />
      <ListState ready={users.ready} error={users.error} empty={users.items.length === 0} />
      {users.items.length === LIMIT && (
        <p class="muted">The first {LIMIT} users by login are listed: search to find the others.</p>
      )}
      {users.items.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Team</th>
              <th scope="col">E-mail</th>
              <th scope="col">Device address</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.items.map((user) => (
              <tr key={user.id} data-user-id={user.id}>
                <th scope="row" data-label="User">
                  <span class="user-cell">
                    <Avatar user={user} />
                    <span>
                      <strong>{user.login}</strong>
                      {user.name && <small class="muted">{user.name}</small>}
                    </span>
                  </span>
                </th>
                <td data-label="Team">{teamOf(user)?.name ?? (user.teamId ? `#${user.teamId}` : '—')}</td>
                <td data-label="E-mail">{user.email ?? '—'}</td>
                <td data-label="Device address">{user.ip ?? '—'}</td>
                <td class="row-actions">
                  {mayChange(user) && (
                    <EditDeleteButtons
                      name={user.login}
                      busy={remove.busy}
                      onEdit={() => setEditing(user)}
                      onDelete={() => destroy(user)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <UserForm
          // the live list's copy: an avatar uploaded in the dialog shows at once
          user={editing === 'new' ? null : (users.items.find((user) => user.id === editing.id) ?? editing)}
          teams={teams.items.filter((team) => canGrant(roles, team.role))}
          onClose={() => setEditing(null)}
        />
      )}
    </section>
  );
}

/** A user's avatar (`GET /user/avatar/:id`), or their initials when there is none. */
export function Avatar({ user }: { user: User }) {
  const placeholder = useRef<HTMLSpanElement>(null);
  // read once the row has been on screen: a long list reads the avatars one screen at a time
  const seen = useSeen(placeholder);
  const url = useAvatar(user.id, seen ? user.avatarUpdatedAt : null);
  const initials = (user.name || user.login).slice(0, 2).toUpperCase();
  return url ? (
    <img class="avatar" src={url} alt="" data-avatar={user.id} />
  ) : (
    <span class="avatar" aria-hidden="true" ref={placeholder}>
      {initials}
    </span>
  );
}

interface UserFormProps {
  user: User | null;
  /** The teams this user may put someone into. */
  teams: readonly Team[];
  onClose(): void;
}

/** The user's dialog: a new user (with a password), or the changes to one, and the avatar upload. */
function UserForm({ user, teams, onClose }: UserFormProps) {
  const [login, setLogin] = useState(user?.login ?? '');
  const [password, setPassword] = useState('');
  const [name, setName] = useState(user?.name ?? '');
  const [teamId, setTeamId] = useState(user?.teamId ? String(user.teamId) : '');
  const [email, setEmail] = useState(user?.email ?? '');
  const [ip, setIp] = useState(user?.ip ?? '');
  const action = useAction();
  const upload = useAction();

  const save = () =>
    action.run(() => {
      const values = {
        name: orNull(name),
        teamId: teamId ? Number(teamId) : null,
        email: orNull(email),
        ip: orNull(ip),
      };
      const users = session.client.value.service('user');
      return user ? users.patch(user.id, values) : users.create({ ...values, login: login.trim(), password });
    });

  const sendAvatar = (file: File | undefined) => {
    if (!user || !file) return;
    void upload.run(() => uploadFile(`/user/avatar/${user.id}`, 'avatar', file));
  };

  return (
    <FormDialog
      title={user ? `Edit ${user.login}` : 'New user'}
      open
      onClose={onClose}
      onSubmit={save}
      action={action}
      submitLabel={user ? 'Save' : 'Create user'}
    >
      {user ? (
        <div class="avatar-field">
          <Avatar user={user} />
          <label>
            Avatar <small>(an image, resized to 512 × 512)</small>
            <input
              name="avatar"
              type="file"
              accept="image/*"
              disabled={upload.busy}
              onChange={(e) => sendAvatar(e.currentTarget.files?.[0])}
            />
          </label>
          {upload.busy && <span role="status">Uploading…</span>}
          <ErrorMessage text={upload.error} />
        </div>
      ) : (
        <>
          <TextField
            label="Login"
            name="login"
            required
            maxLength={100}
            pattern="\S+"
            autoComplete="off"
            value={login}
            onValue={setLogin}
          />
          <TextField
            label="Password"
            name="password"
            type="password"
            required
            autoComplete="new-password"
            value={password}
            onValue={setPassword}
          />
        </>
      )}
      <TextField label="Name" name="name" value={name} onValue={setName} />
      <label>
        Team
        <select name="team" value={teamId} onChange={(e) => setTeamId(e.currentTarget.value)}>
          <option value="">No team</option>
          {/* the user's current team stays listed, even one this user could not give */}
          {user?.teamId && !teams.some((team) => team.id === user.teamId) && (
            <option value={String(user.teamId)}>Team #{user.teamId}</option>
          )}
          {teams.map((team) => (
            <option key={team.id} value={String(team.id)}>
              {team.name} ({team.role})
            </option>
          ))}
        </select>
      </label>
      <TextField label="E-mail" name="email" type="email" value={email} onValue={setEmail} />
      <TextField
        label="Device address"
        hint="(signs this device in as the user: a tablet left at a post)"
        name="ip"
        placeholder="192.0.2.10"
        value={ip}
        onValue={setIp}
      />
    </FormDialog>
  );
}
