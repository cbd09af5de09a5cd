/** Signing in with a username and password, and the password change a new account must make first. */
import { useState } from 'preact/hooks';
import { ApiFailure, api, call, describeFailure, type LoginReply } from '../api.ts';

const MIN_PASSWORD = 12;

function signInError(error: unknown): string {
  if (!(error instanceof ApiFailure)) return describeFailure(error);
  switch (error.code) {
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'sign_in_delayed': {
      const wait = 'Too many failed sign-ins for this account from here.';
      if (error.retryAfter === null) return `${wait} Wait a little, then try again.`;
      if (error.retryAfter < 60) return `${wait} Try again in ${error.retryAfter} s.`;
      const until = new Date(Date.now() + error.retryAfter * 1000).toLocaleTimeString([], {
        hour: '2-digit',
        minute: '2-digit',
      });
      const minutes = Math.ceil(error.retryAfter / 60);
      return `${wait} Try again in ${minutes} minute${minutes === 1 ? '' : 's'} (at ${until}).`;
    }
    case 'too_many_attempts':
      return 'Too many sign-in attempts from this address. Wait a minute, then try again.';
    default:
      return error.message;
  }
}

export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (reply: LoginReply) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await call(api.auth.login.$post({ json: { username, password } })));
    } catch (failure) {
      setError(signInError(failure));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="narrow">
      <h1>Witness</h1>
      <form class="card stack" onSubmit={submit}>
        <h2>Sign in</h2>
        {notice && !error && <p class="notice">{notice}</p>}
        {error && <p role="alert">{error}</p>}
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted">
          First start? Username <code>admin</code>; password: the one-time password that <code>npm start</code> printed,
          or <code>WITNESS_ADMIN_PASSWORD</code> where the server was deployed with one. You then choose your own.
        </p>
      </form>
    </main>
  );
}

export function ChangePassword({ name, onChanged }: { name: string; onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (next !== repeat) return setError('The new passwords do not match.');
    if (next === current) return setError('Choose a password different from the temporary one.');
    try {
      await call(api.auth.password.$post({ json: { currentPassword: current, newPassword: next } }));
      onChanged();
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <form class="card stack narrow" onSubmit={submit}>
      <h2>Choose your own password</h2>
      <p>
        Signed in as <strong>{name}</strong> with a temporary password: the one-time password that{' '}
        <code>npm start</code> printed, or the one an administrator gave you. Type it once more below, then choose the
        password you will use from now on (at least {MIN_PASSWORD} characters).
      </p>
      {error && <p role="alert">{error}</p>}
      <label>
        Temporary password (the one you just signed in with)
        <input
          type="password"
          autocomplete="current-password"
          required
          value={current}
          onInput={(e) => setCurrent(e.currentTarget.value)}
        />
      </label>
      <label>
        Your new password
        <input
          type="password"
          autocomplete="new-password"
          required
          minLength={MIN_PASSWORD}
          value={next}
          onInput={(e) => setNext(e.currentTarget.value)}
        />
      </label>
      <label>
        Repeat your new password
        <input
          type="password"
          autocomplete="new-password"
          required
          minLength={MIN_PASSWORD}
          value={repeat}
          onInput={(e) => setRepeat(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary">
        Change password
      </button>
    </form>
  );
}
