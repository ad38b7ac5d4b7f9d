import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { describeError } from '../errors';
import { ErrorMessage, TextField } from '../fields';
import { session } from '../state';

const reasons = {
  revoked: 'Your session was ended (signed out elsewhere, or by an administrator). Sign in again.',
  expired: 'Your session expired. Sign in again.',
};

/**
 * Sign-in: login and password, or the device's address (`POST /auth/ip`, for the tablets a team leaves at
 * its post). The event field is the tenant's slug; empty, the server picks it from the host name (or
 * `default`, where the platform's operators sign in).
 */
export function SignIn() {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  // `?event=<slug>` (a link from a reset page or an operator) fills the Event field
  const { query } = useLocation();
  const [tenant, setTenant] = useState(query.event ?? session.tenant.value);
  const [forgot, setForgot] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reason = session.signedOut.value;

  const run = async (attempt: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await attempt();
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <form
        class="card"
        aria-labelledby="sign-in-title"
        onSubmit={(event) => {
          event.preventDefault();
          void run(() => session.login(login, password, tenant));
        }}
      >
        <h1 id="sign-in-title">Flux console</h1>
        {reason && !error && (
          <p class="notice" role="status">
            {reasons[reason]}
          </p>
        )}
        <ErrorMessage text={error} />
        <TextField
          label="Login"
          name="login"
          autoComplete="username"
          required
          value={login}
          onValue={setLogin}
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onValue={setPassword}
        />
        {query.event && query.event === tenant && (
          // a link chose the event: say so, a tablet must not be signed in to another event unnoticed
          <p class="notice" role="status">
            This link signs in to the event “{query.event}”.
          </p>
        )}
        <TextField
          label="Event"
          hint="(leave empty for this address's event)"
          name="tenant"
          autoComplete="organization"
          pattern="[a-z0-9\-]*"
          placeholder="default"
          value={tenant}
          onValue={setTenant}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              // the form's own check (the Event field's pattern) does not run for this button
              if (!/^[a-z0-9-]*$/.test(tenant.trim().toLowerCase()))
                throw new Error('Event: letters, digits and dashes only.');
              await session.loginByIp(tenant);
            })
          }
        >
          Sign in as this device
        </button>
        <button type="button" class="link" aria-expanded={forgot} onClick={() => setForgot(!forgot)}>
          Forgot your password?
        </button>
        {forgot && <ForgotPassword login={login} tenant={tenant} />}
      </form>
    </main>
  );
}

/**
 * Asks for a reset e-mail (`POST /auth/reset`). The server answers the same for every login, so does this
 * page: whether the login exists, or has an e-mail address, is not told to whoever asks.
 */
function ForgotPassword({ login, tenant }: { login: string; tenant: string }) {
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const send = async () => {
    setError(null);
    try {
      const slug = tenant.trim().toLowerCase();
      await session.client.value.request(
        'POST',
        '/auth/reset',
        { login },
        { headers: slug ? { 'x-tenant': slug } : {} },
      );
      setSent(true);
    } catch (caught) {
      setError(describeError(caught));
    }
  };
  if (sent)
    return (
      <p role="status" class="notice">
        If “{login}” has an e-mail address, a link to choose a new password is on its way.
      </p>
    );
  return (
    <div class="forgot">
      <ErrorMessage text={error} />
      <button type="button" class="secondary" disabled={!login} onClick={() => void send()}>
        E-mail me a link for “{login || 'the login above'}”
      </button>
    </div>
  );
}
