import type { Item } from '@flux/client';
import { useState } from 'preact/hooks';
import { ErrorMessage } from '../fields';
import { Dialog } from './Dialog';

type User = Item<'user'>;

/**
 * Picks the users assigned to an alert among those the viewer may read (`PUT /alert/:id/users`
 * replaces the list): a search field, then one checkbox per user with the team's name.
 */
export function AssignDialog({
  alert,
  users,
  teamName,
  busy,
  error,
  onSave,
  onClose,
}: {
  alert: Item<'alert'>;
  users: readonly User[];
  teamName(id: number | null): string;
  busy: boolean;
  error: string | null;
  onSave(users: number[]): void;
  onClose(): void;
}) {
  const [chosen, setChosen] = useState(() => new Set(alert.users));
  const [search, setSearch] = useState('');
  const needle = search.trim().toLowerCase();
  const shown = users.filter(
    (user) =>
      !needle || `${user.name ?? ''} ${user.login} ${teamName(user.teamId)}`.toLowerCase().includes(needle),
  );
  const toggle = (id: number, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  };
  return (
    <Dialog title={`Assign users: ${alert.title}`} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          onSave([...chosen]);
        }}
      >
        <label>
          Search users
          <input type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} />
        </label>
        <fieldset class="assign-list">
          <legend class="visually-hidden">Users</legend>
          {shown.length === 0 && <p class="empty">No user matches.</p>}
          {shown.map((user) => (
            <label key={user.id} class="assign-user">
              <input
                type="checkbox"
                checked={chosen.has(user.id)}
                onChange={(event) => toggle(user.id, event.currentTarget.checked)}
              />
              <span>{user.name || user.login}</span>
              <span class="muted">{teamName(user.teamId)}</span>
            </label>
          ))}
        </fieldset>
        <ErrorMessage text={error} />
        <div class="dialog-actions">
          <span class="muted chosen">{chosen.size} chosen</span>
          <button type="button" class="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}
