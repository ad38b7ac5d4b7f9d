import type { ComponentChildren, InputHTMLAttributes } from 'preact';

/** An error for the user to read (`role="alert"`: announced as it appears), or nothing without one. */
export function ErrorMessage({ text }: { text: ComponentChildren }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}

/** What a {@link TextField} passes to its input, besides the value. */
interface InputProps {
  name: string;
  type?: 'text' | 'password' | 'email' | 'search';
  required?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  placeholder?: string;
  autoComplete?: string;
}

/**
 * A labelled text input bound to a piece of state: the label wraps the input (so `getByLabel` and screen
 * readers find it), `hint` is a small note after the label.
 * @example <TextField label="Name" name="name" required value={name} onValue={setName} />
 */
export function TextField({
  label,
  hint,
  value,
  onValue,
  ...input
}: InputProps & {
  label: ComponentChildren;
  hint?: ComponentChildren;
  value: string;
  onValue(value: string): void;
}) {
  return (
    <label>
      {label}
      {hint && (
        <>
          {' '}
          <small>{hint}</small>
        </>
      )}
      <input
        // Preact types <input> as a union over its `type`: one held in a variable needs this cast
        {...(input as InputHTMLAttributes<HTMLInputElement>)}
        value={value}
        onInput={(event) => onValue(event.currentTarget.value)}
      />
    </label>
  );
}
