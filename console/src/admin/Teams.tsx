import type { Item } from '@flux/client';
import { useState } from 'preact/hooks';
import { ErrorMessage, TextField } from '../fields';
import { useLive } from '../live';
import { session } from '../state';
import { canGrant, useRoles } from './roles';
import { EditDeleteButtons, FormDialog, ListState, orNull, PageHead, useAction } from './ui';

type Team = Item<'team'>;

/** Teams (`team/admin`): the live list; create, rename, change role, group, location; delete. */
export function Teams() {
  const teams = useLive('team', { sort: ['name'], limit: 1000 });
  const roles = useRoles();
  const [editing, setEditing] = useState<Team | 'new' | null>(null);
  const remove = useAction();

  const destroy = (team: Team) => {
    if (!confirm(`Delete the team "${team.name}"?`)) return;
    void remove.run(() => session.client.value.service('team').remove(team.id));
  };

  return (
    <section aria-labelledby="teams-title">
      <PageHead id="teams-title" title="Teams" count={teams.items.length}>
        <button type="button" onClick={() => setEditing('new')}>
          New team
        </button>
      </PageHead>
      <ErrorMessage text={remove.error} />
      <ListState ready={teams.ready} error={teams.error} empty={teams.items.length === 0} />
      {teams.items.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Group</th>
              <th scope="col">Location</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {teams.items.map((team) => {
              const mine = canGrant(roles, team.role);
              return (
                <tr key={team.id} data-team-id={team.id}>
                  <th scope="row" data-label="Name">
                    {team.name}
                  </th>
                  <td data-label="Role">
                    <span class="badge">{team.role}</span>
                  </td>
                  <td data-label="Group">{team.group ?? '—'}</td>
                  <td data-label="Location">{team.location ?? '—'}</td>
                  <td class="row-actions">
                    {mine && (
                      <EditDeleteButtons
                        name={team.name}
                        busy={remove.busy}
                        onEdit={() => setEditing(team)}
                        onDelete={() => destroy(team)}
                      />
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && (
        <TeamForm
          team={editing === 'new' ? null : editing}
          roles={Object.keys(roles).filter((role) => canGrant(roles, role))}
          onClose={() => setEditing(null)}
        />
      )}
    </section>
  );
}

/** The team's dialog: a new team, or the changes to one. */
function TeamForm({ team, roles, onClose }: { team: Team | null; roles: string[]; onClose(): void }) {
  const [name, setName] = useState(team?.name ?? '');
  // the roles may still be on their way when the dialog opens: until one is picked, the first
  const [picked, setRole] = useState(team?.role ?? '');
  const role = picked || roles[0] || '';
  const [group, setGroup] = useState(team?.group ?? '');
  const [location, setLocation] = useState(team?.location ?? '');
  const action = useAction();
  const save = () =>
    action.run(() => {
      const values = { name: name.trim(), role, group: orNull(group), location: orNull(location) };
      const teams = session.client.value.service('team');
      return team ? teams.patch(team.id, values) : teams.create(values);
    });
  return (
    <FormDialog
      title={team ? `Edit ${team.name}` : 'New team'}
      open
      onClose={onClose}
      onSubmit={save}
      action={action}
      submitLabel={team ? 'Save' : 'Create team'}
    >
      <TextField label="Name" name="name" required maxLength={100} value={name} onValue={setName} />
      <label>
        Role
        <select name="role" required value={role} onChange={(e) => setRole(e.currentTarget.value)}>
          {/* the team's current role stays listed, even one this user could not give */}
          {[...new Set([...(team ? [team.role] : []), ...roles])].map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <TextField
        label="Group"
        hint="(one word: teams of a group share buttons and a channel)"
        name="group"
        pattern="[^\s:]*"
        value={group}
        onValue={setGroup}
      />
      <TextField label="Location" name="location" value={location} onValue={setLocation} />
    </FormDialog>
  );
}
