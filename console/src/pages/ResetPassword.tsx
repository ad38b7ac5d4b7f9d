import { useState } from 'preact/hooks';
import { describeError } from '../errors';
import { ErrorMessage, TextField } from '../fields';
import { to } from '../paths';
import { session } from '../state';

/**
 * `/console/reset#token=…&tenant=…`: the page a reset e-mail links to (set `auth.resetUrl` to
 * `https://<host>/console/reset`, docs/mail.md). The token is in the fragment, which browsers never send
 * to a server; the page drops it from the address at once so that it is not left in the history. A new
 * password typed twice is sent with `POST /auth/reset/confirm`, which also ends every session of the user.
 */
export function ResetPassword() {
  const [fragment] = useState(() => {
    const params = new URLSearchParams(location.hash.slice(1));
    if (location.hash) history.replaceState(history.state, '', location.pathname);
    return { token: params.get('token') ?? '', tenant: params.get('tenant') ?? '' };
  });
  const [token, setToken] = useState(fragment.token);
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (password !== again) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      await session.client.value.request(
        'POST',
        '/auth/reset/confirm',
        { token: token.trim(), password },
        { headers: fragment.tenant ? { 'x-tenant': fragment.tenant } : {} },
      );
      setDone(true);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <form class="card" aria-labelledby="reset-title" onSubmit={submit}>
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <>
            <p role="status">Your password is set. Every device signed in as you was signed out.</p>
            <a
              class="button"
              href={fragment.tenant ? `${to('')}?event=${encodeURIComponent(fragment.tenant)}` : to('')}
            >
              Sign in
            </a>
          </>
        ) : (
          <>
            <ErrorMessage text={error} />
            {(!fragment.token || error) && (
              <TextField
                label="Code from the e-mail"
                name="token"
                autoComplete="one-time-code"
                required
                value={token}
                onValue={setToken}
              />
            )}
            <TextField
              label="New password"
              name="password"
              type="password"
              autoComplete="new-password"
              required
              minLength={8}
              value={password}
              onValue={setPassword}
            />
            <TextField
              label="New password again"
              name="again"
              type="password"
              autoComplete="new-password"
              required
              value={again}
              onValue={setAgain}
            />
            <button type="submit" disabled={busy}>
              Set the password
            </button>
          </>
        )}
      </form>
    </main>
  );
}
