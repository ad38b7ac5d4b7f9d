import type { Item } from '@flux/client';
import { useState } from 'preact/hooks';
import { ErrorMessage, TextField } from '../fields';
import { useLive } from '../live';
import { session } from '../state';
import { EditDeleteButtons, FormDialog, ListState, orNull, PageHead, useAction } from './ui';

type AlertButton = Item<'alertButton'>;
type Team = Item<'team'>;

/**
 * Alert buttons (`alertButton/admin`): the buttons the teams of a group press to raise an alert to a
 * receiver team, live; create, edit, delete.
 */
export function AlertButtons() {
  const buttons = useLive('alertButton', { sort: ['category', 'title'], limit: 1000 });
  const teams = useLive('team', { sort: ['name'], limit: 1000 });
  const [editing, setEditing] = useState<AlertButton | 'new' | null>(null);
  const remove = useAction();
  const teamName = (id: number | null) =>
    id === null ? 'Nobody in particular' : (teams.items.find((team) => team.id === id)?.name ?? `#${id}`);

  const destroy = (button: AlertButton) => {
    if (!confirm(`Delete the button "${button.title}"?`)) return;
    void remove.run(() => session.client.value.service('alertButton').remove(button.id));
  };

  return (
    <section aria-labelledby="buttons-title">
      <PageHead id="buttons-title" title="Alert buttons" count={buttons.items.length}>
        <button type="button" onClick={() => setEditing('new')}>
          New button
        </button>
      </PageHead>
      <ErrorMessage text={remove.error} />
      <ListState ready={buttons.ready} error={buttons.error} empty={buttons.items.length === 0} />
      {buttons.items.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Category</th>
              <th scope="col">Pressed by group</th>
              <th scope="col">Alerts</th>
              <th scope="col">Message</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {buttons.items.map((button) => (
              <tr key={button.id} data-button-id={button.id}>
                <th scope="row" data-label="Title">
                  {button.title}
                </th>
                <td data-label="Category">{button.category ?? '—'}</td>
                <td data-label="Pressed by">{button.senderGroup ?? 'every team'}</td>
                <td data-label="Alerts">{teamName(button.receiverTeamId)}</td>
                <td data-label="Message">
                  {button.messageRequired ? <span class="badge">required</span> : 'optional'}
                  {button.messagePrompt && <small class="muted"> “{button.messagePrompt}”</small>}
                </td>
                <td class="row-actions">
                  <EditDeleteButtons
                    name={button.title}
                    busy={remove.busy}
                    onEdit={() => setEditing(button)}
                    onDelete={() => destroy(button)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <ButtonForm
          button={editing === 'new' ? null : editing}
          teams={teams.items}
          onClose={() => setEditing(null)}
        />
      )}
    </section>
  );
}

/** The button's dialog: a new button, or the changes to one. */
function ButtonForm({
  button,
  teams,
  onClose,
}: {
  button: AlertButton | null;
  teams: readonly Team[];
  onClose(): void;
}) {
  const [title, setTitle] = useState(button?.title ?? '');
  const [category, setCategory] = useState(button?.category ?? '');
  const [senderGroup, setSenderGroup] = useState(button?.senderGroup ?? '');
  const [receiverTeamId, setReceiverTeamId] = useState(
    button?.receiverTeamId ? String(button.receiverTeamId) : '',
  );
  const [messageRequired, setMessageRequired] = useState(button?.messageRequired ?? false);
  const [messagePrompt, setMessagePrompt] = useState(button?.messagePrompt ?? '');
  const [messageDefault, setMessageDefault] = useState(button?.messageDefault ?? '');
  const groups = [
    ...new Set(teams.map((team) => team.group).filter((group): group is string => !!group)),
  ].sort();
  const action = useAction();

  const save = () =>
    action.run(() => {
      const values = {
        title: title.trim(),
        category: orNull(category),
        senderGroup: orNull(senderGroup),
        receiverTeamId: receiverTeamId ? Number(receiverTeamId) : null,
        messageRequired,
        messagePrompt: orNull(messagePrompt),
        messageDefault: orNull(messageDefault),
      };
      const buttons = session.client.value.service('alertButton');
      return button ? buttons.patch(button.id, values) : buttons.create(values);
    });

  return (
    <FormDialog
      title={button ? `Edit ${button.title}` : 'New button'}
      open
      onClose={onClose}
      onSubmit={save}
      action={action}
      submitLabel={button ? 'Save' : 'Create button'}
    >
      <TextField label="Title" name="title" required maxLength={200} value={title} onValue={setTitle} />
      <TextField
        label="Category"
        name="category"
        placeholder="Supplies"
        value={category}
        onValue={setCategory}
      />
      <label>
        Pressed by group <small>(empty: only teams that read every button)</small>
        <input
          name="senderGroup"
          list="button-groups"
          pattern="[^\s:]*"
          value={senderGroup}
          onInput={(e) => setSenderGroup(e.currentTarget.value)}
        />
        <datalist id="button-groups">
          {groups.map((group) => (
            <option key={group} value={group} />
          ))}
        </datalist>
      </label>
      <label>
        Receiver team
        <select
          name="receiverTeamId"
          value={receiverTeamId}
          onChange={(e) => setReceiverTeamId(e.currentTarget.value)}
        >
          <option value="">Nobody in particular</option>
          {teams.map((team) => (
            <option key={team.id} value={String(team.id)}>
              {team.name}
            </option>
          ))}
        </select>
      </label>
      <label class="check">
        <input
          name="messageRequired"
          type="checkbox"
          checked={messageRequired}
          onChange={(e) => setMessageRequired(e.currentTarget.checked)}
        />
        A message is required
      </label>
      <TextField
        label="Message prompt"
        name="messagePrompt"
        placeholder="How many kegs?"
        value={messagePrompt}
        onValue={setMessagePrompt}
      />
      <TextField
        label="Default message"
        name="messageDefault"
        value={messageDefault}
        onValue={setMessageDefault}
      />
    </FormDialog>
  );
}
