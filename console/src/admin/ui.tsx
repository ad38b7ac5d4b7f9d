import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage } from '../fields';

/** An action's state in a form: running, and the sentence of its last failure. */
export interface Action {
  busy: boolean;
  error: string | null;
  /** Runs `attempt`, keeping its failure as `error`; resolves true when it succeeded. */
  run(attempt: () => Promise<unknown>): Promise<boolean>;
  clear(): void;
}

/** A form's submit state: one action at a time, its error described for the user (`describeError`). */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    clear: () => setError(null),
    async run(attempt) {
      setBusy(true);
      setError(null);
      try {
        await attempt();
        return true;
      } catch (caught) {
        setError(describeError(caught));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

interface FormDialogProps {
  title: string;
  /** Shown while true; closing (Escape, Cancel, a successful submit) calls `onClose`. */
  open: boolean;
  onClose(): void;
  /** Resolves true when the dialog may close. */
  onSubmit(): Promise<boolean>;
  action: Action;
  submitLabel?: string;
  children: ComponentChildren;
}

/**
 * An edit form in the native modal `<dialog>`: focus stays inside, Escape closes it, Enter in a field
 * submits; the server's refusal is shown above the fields and the dialog stays open.
 */
export function FormDialog({
  title,
  open,
  onClose,
  onSubmit,
  action,
  submitLabel = 'Save',
  children,
}: FormDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  const titleId = `dialog-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog ref={ref} class="form-dialog" aria-labelledby={titleId} onClose={onClose}>
      {open && (
        <form
          onSubmit={async (event) => {
            event.preventDefault();
            if (await onSubmit()) onClose();
          }}
        >
          <h2 id={titleId}>{title}</h2>
          <ErrorMessage text={action.error} />
          <div class="fields">{children}</div>
          <div class="actions">
            <button type="button" class="secondary" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" disabled={action.busy}>
              {submitLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** The title row of an admin page: its heading, a live count and the page's main action. */
export function PageHead({
  id,
  title,
  count,
  children,
}: {
  id: string;
  title: string;
  count?: number;
  children?: ComponentChildren;
}) {
  return (
    <div class="page-head">
      <h1 id={id}>
        {title}
        {count !== undefined && <span class="count">{count}</span>}
      </h1>
      {children}
    </div>
  );
}

/** A live list's first read or failure, in place of the rows. */
export function ListState({ ready, error, empty }: { ready: boolean; error: unknown; empty: boolean }) {
  if (error)
    return (
      <p class="error" role="alert">
        {describeError(error)}
      </p>
    );
  if (!ready) return <p class="empty">Loading…</p>;
  return empty ? <p class="empty">Nothing yet.</p> : null;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** A date of the API (ISO string) as the user reads it: the time alone today, else the date too; '—' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString()
    ? clockFormat.format(date)
    : dateTimeFormat.format(date);
}

/** An optional text field's value for the API: trimmed, empty as null. */
export function orNull(value: string): string | null {
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/**
 * A row's Edit and Delete buttons, named after the row for screen readers ("Edit Bar Nord"); Delete is
 * disabled while `busy` (a deletion in flight).
 */
export function EditDeleteButtons(props: { name: string; busy: boolean; onEdit(): void; onDelete(): void }) {
  return (
    <>
      <button type="button" class="secondary" aria-label={`Edit ${props.name}`} onClick={props.onEdit}>
        Edit
      </button>
      <button
        type="button"
        class="secondary danger"
        aria-label={`Delete ${props.name}`}
        disabled={props.busy}
        onClick={props.onDelete}
      >
        Delete
      </button>
    </>
  );
}
