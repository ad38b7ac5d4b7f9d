import type { Item } from '@flux/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage } from '../fields';
import { session } from '../state';
import { Dialog } from './Dialog';

type Button = Item<'alertButton'>;

/** What the last press did, for the status line under the buttons. */
type Outcome = { ok: true; text: string } | { ok: false; text: string } | null;

/**
 * The alert buttons the user may press (`POST /alertbutton/:id/alert`): big, first on a phone. A button
 * that asks for a message (`messageRequired`, or a `messagePrompt`) opens a dialog with its prompt,
 * prefilled with its `messageDefault`; the others raise at once.
 */
export function RaiseButtons({
  buttons,
  teamName,
  collapsed,
}: {
  buttons: readonly Button[];
  teamName(id: number | null): string;
  /** Fold the buttons away (a desk that may press every button of the event). */
  collapsed: boolean;
}) {
  const [asking, setAsking] = useState<Button | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  useEffect(() => {
    // a confirmation is for the moment of the press; a failure stays until the next one
    if (!outcome?.ok) return;
    const timer = setTimeout(() => setOutcome(null), 10_000);
    return () => clearTimeout(timer);
  }, [outcome]);

  const raise = async (button: Button, message?: string) => {
    setBusy(button.id);
    setOutcome(null);
    try {
      await session.client.value.request(
        'POST',
        `/alertbutton/${button.id}/alert`,
        message ? { message } : {},
      );
      setAsking(null);
      setOutcome({ ok: true, text: `Sent “${button.title}” to ${teamName(button.receiverTeamId)}.` });
    } catch (error) {
      setOutcome({ ok: false, text: `“${button.title}” was not sent: ${describeError(error)}` });
    } finally {
      setBusy(null);
    }
  };

  const press = (button: Button) => {
    if (button.messageRequired || button.messagePrompt) setAsking(button);
    else void raise(button);
  };

  const grid = (
    <div class="raise-grid">
      {buttons.map((button) => (
        <button
          key={button.id}
          type="button"
          class="raise-button"
          data-button-id={button.id}
          disabled={busy === button.id}
          onClick={() => press(button)}
        >
          <span class="raise-title">{button.title}</span>
          <span class="raise-to">→ {teamName(button.receiverTeamId)}</span>
        </button>
      ))}
    </div>
  );

  return (
    <section class="raise" aria-labelledby="raise-title">
      {collapsed ? (
        <details>
          <summary>
            <h2 id="raise-title">Raise an alert</h2>
            <span class="muted">{buttons.length} buttons</span>
          </summary>
          {grid}
        </details>
      ) : (
        <>
          <h2 id="raise-title">Raise an alert</h2>
          {grid}
        </>
      )}
      <p
        class={outcome?.ok === false ? 'error' : 'raise-sent'}
        role={outcome?.ok === false ? 'alert' : 'status'}
      >
        {outcome?.text}
      </p>
      {asking && (
        <MessageDialog
          button={asking}
          busy={busy === asking.id}
          error={outcome?.ok === false ? outcome.text : null}
          onSend={(message) => void raise(asking, message)}
          onClose={() => setAsking(null)}
        />
      )}
    </section>
  );
}

/** The message a button asks for: its prompt as the label, its default text prefilled. */
function MessageDialog({
  button,
  busy,
  error,
  onSend,
  onClose,
}: {
  button: Button;
  busy: boolean;
  error: string | null;
  onSend(message: string): void;
  onClose(): void;
}) {
  const [message, setMessage] = useState(button.messageDefault ?? '');
  const missing = button.messageRequired && !message.trim();
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    // the prefilled text is a start: the cursor goes after it
    const field = area.current!;
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
  }, []);
  return (
    <Dialog title={button.title} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (!missing) onSend(message.trim());
        }}
      >
        <label>
          {button.messagePrompt || 'Message'}
          {button.messageRequired ? ' (required)' : ''}
          <textarea
            name="message"
            rows={3}
            maxLength={5000}
            required={button.messageRequired}
            value={message}
            onInput={(event) => setMessage(event.currentTarget.value)}
            ref={area}
          />
        </label>
        <ErrorMessage text={error} />
        <div class="dialog-actions">
          <button type="button" class="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy || missing}>
            Send alert
          </button>
        </div>
      </form>
    </Dialog>
  );
}
