/**
 * The console shell: who is signed in, and navigation that offers only the pages their permissions open.
 * Everything recorded or typed by users is rendered as text (Preact escapes it), never as HTML.
 */
import type { FunctionComponent } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  type ApiFailure,
  type LoginReply,
  type Me,
  type Permission,
  request,
  setCsrfToken,
  whenSignedOut,
} from './api.ts';
import { AuditPage } from './pages/audit.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { ChangePassword, SignIn } from './pages/sign-in.tsx';

const PAGES = [
  { hash: '#/sessions', title: 'Sessions', needs: 'sessions:monitor' },
  { hash: '#/audit', title: 'Audit log', needs: 'audit:view' },
  { hash: '#/users', title: 'Users & keys', needs: 'users:manage' },
  { hash: '#/settings', title: 'Settings', needs: 'recording:administer' },
] as const satisfies ReadonlyArray<{ hash: string; title: string; needs: Permission }>;
type PageHash = (typeof PAGES)[number]['hash'];

type Auth = { state: 'loading' } | { state: 'signed-out'; notice: string | null } | { state: 'signed-in'; me: Me };

/** The Users & keys page is fetched when first opened (see pages/users.tsx). */
function UsersPage() {
  const [Page, setPage] = useState<FunctionComponent | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    import('./pages/users.tsx').then(
      (module) => setPage(() => module.UsersAndKeysPage),
      (e: Error) => setError(`The page failed to load: ${e.message}`),
    );
  }, []);
  if (error) return <p role="alert">{error}</p>;
  return Page ? <Page /> : <p>Loading…</p>;
}

function currentHash(): string {
  return location.hash || '#/sessions';
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });
  const [hash, setHash] = useState(currentHash());

  const loadMe = useCallback(() => {
    request<Me>('/auth/me')
      .then((me) => {
        setCsrfToken(me.csrfToken);
        setAuth({ state: 'signed-in', me });
      })
      .catch((e: ApiFailure) => {
        if (e.status !== 401) setAuth({ state: 'signed-out', notice: e.message });
      });
  }, []);

  useEffect(() => {
    whenSignedOut((failure) => {
      setCsrfToken(null);
      setAuth({ state: 'signed-out', notice: failure.code === 'login_expired' ? failure.message : null });
    });
    loadMe();
    const onHash = () => setHash(currentHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, [loadMe]);

  if (auth.state === 'loading') return <p class="loading">Loading…</p>;
  if (auth.state === 'signed-out') {
    return (
      <SignIn
        notice={auth.notice}
        onSignedIn={(reply: LoginReply) => {
          setCsrfToken(reply.csrfToken);
          loadMe();
        }}
      />
    );
  }

  const { me } = auth;
  const can = (permission: Permission) => me.permissions.includes(permission);
  const pages = PAGES.filter((p) => can(p.needs));
  const page = pages.find((p) => p.hash === hash) ?? pages[0];

  const signOut = async () => {
    await request('/auth/logout', { method: 'POST' }).catch(() => {});
    setCsrfToken(null);
    setAuth({ state: 'signed-out', notice: 'You are signed out.' });
  };

  const content = (which: PageHash) => {
    switch (which) {
      case '#/sessions':
        return <SessionsPage can={can} />;
      case '#/audit':
        return <AuditPage />;
      case '#/users':
        return <UsersPage />;
      case '#/settings':
        return <SettingsPage />;
    }
  };

  return (
    <>
      <header class="top">
        <h1>Witness</h1>
        {!me.mustChangePassword && (
          <nav aria-label="Console">
            {pages.map((p) => (
              <a key={p.hash} href={p.hash} aria-current={p === page ? 'page' : undefined}>
                {p.title}
              </a>
            ))}
          </nav>
        )}
        <div class="who">
          <span>
            Signed in as <strong>{me.name}</strong>
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        {me.mustChangePassword ? (
          <ChangePassword name={me.name} onChanged={loadMe} />
        ) : page ? (
          content(page.hash)
        ) : (
          <p>Your account has no permissions in the console yet. Ask an administrator to grant some.</p>
        )}
      </main>
    </>
  );
}
