/**
 * The console shell: who is signed in, and navigation that offers only the pages their permissions open.
 * Everything recorded or typed by users is rendered as text (Preact escapes it), never as HTML.
 */
import type { FunctionComponent } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  type ApiFailure,
  api,
  call,
  type LoginReply,
  type Me,
  type Permission,
  setCsrfToken,
  whenSignedOut,
} from './api.ts';
import { AuditPage } from './pages/audit.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { ChangePassword, SignIn } from './pages/sign-in.tsx';
import { loadWatchPage, type WatchKind, type WatchProps } from './terminal/watch-route.ts';

const PAGES = [
  { hash: '#/sessions', title: 'Sessions', needs: 'sessions:monitor' },
  { hash: '#/audit', title: 'Audit log', needs: 'audit:view' },
  { hash: '#/users', title: 'Users & keys', needs: 'users:manage' },
  { hash: '#/settings', title: 'Settings', needs: 'recording:administer' },
] as const satisfies ReadonlyArray<{ hash: string; title: string; needs: Permission }>;
type PageHash = (typeof PAGES)[number]['hash'];

type Auth = { state: 'loading' } | { state: 'signed-out'; notice: string | null } | { state: 'signed-in'; me: Me };

/**
 * A page fetched when first opened (its code is a separate chunk), so the first load stays small: Users &
 * keys, and the players with their media code.
 */
function Lazy<P extends object>({ load, props }: { load: () => Promise<FunctionComponent<P>>; props: P }) {
  const [Page, setPage] = useState<FunctionComponent<P> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    load().then(
      (component) => setPage(() => component),
      (e: Error) => setError(`The page failed to load: ${e.message}`),
    );
  }, [load]);
  if (error) return <p role="alert">{error}</p>;
  return Page ? <Page {...props} /> : <p>Loading…</p>;
}

const loadUsers = () => import('./pages/users.tsx').then((m) => m.UsersAndKeysPage);
const loadSettings = () => import('./pages/settings.tsx').then((m) => m.SettingsPage);
const loadSessionPage = () => import('./session/session-page.tsx').then((m) => m.SessionPage);

/** One session's player: a video, or a terminal for an SSH session (terminal/watch-route.ts picks). */
function WatchPage({ sessionId, kind, can }: WatchProps & { kind: WatchKind }) {
  const load = useCallback(() => loadWatchPage(sessionId, kind), [sessionId, kind]);
  return <Lazy load={load} props={{ sessionId, can }} />;
}

/**
 * `#/sessions/{id}/live` and `#/sessions/{id}/recording`: one session's players. A query may follow
 * (`?at=ms`: where the recording starts); a page's address may carry one too (`#/sessions?q=…`: its filters).
 */
const WATCH_ROUTE = /^#\/sessions\/([0-9a-f-]{36})\/(live|recording)(?:\?.*)?$/;
const WATCH_NEEDS = { live: 'sessions:watch-live', recording: 'recordings:view' } as const satisfies Record<
  string,
  Permission
>;

/** `#/sessions/{id}`: one session's page (its facts and evidence). */
const SESSION_ROUTE = /^#\/sessions\/([0-9a-f-]{36})(?:\?.*)?$/;
const SESSION_NEEDS: readonly Permission[] = ['sessions:monitor', 'sessions:watch-live', 'recordings:view'];

function currentHash(): string {
  return location.hash || '#/sessions';
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });
  const [hash, setHash] = useState(currentHash());

  const loadMe = useCallback(() => {
    call(api.auth.me.$get())
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
  const watch = WATCH_ROUTE.exec(hash);
  const watchKind = watch?.[2] as keyof typeof WATCH_NEEDS | undefined;
  const watching =
    watch && watchKind && can(WATCH_NEEDS[watchKind]) ? { id: watch[1] as string, kind: watchKind } : null;
  const sessionMatch = watching ? null : SESSION_ROUTE.exec(hash);
  const sessionId = sessionMatch && SESSION_NEEDS.some(can) ? (sessionMatch[1] as string) : null;
  const page =
    watching || sessionId
      ? pages.find((p) => p.hash === '#/sessions')
      : (pages.find((p) => p.hash === hash.split('?')[0]) ?? pages[0]);

  const signOut = async () => {
    await call(api.auth.logout.$post()).catch(() => {});
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
        return <Lazy load={loadUsers} props={{}} />;
      case '#/settings':
        return <Lazy load={loadSettings} props={{}} />;
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
        ) : watching ? (
          <WatchPage key={`${watching.id}/${watching.kind}`} sessionId={watching.id} kind={watching.kind} can={can} />
        ) : sessionId ? (
          <Lazy key={sessionId} load={loadSessionPage} props={{ sessionId, can }} />
        ) : page ? (
          content(page.hash)
        ) : (
          <p>Your account has no permissions in the console yet. Ask an administrator to grant some.</p>
        )}
      </main>
    </>
  );
}
