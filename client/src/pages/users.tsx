/**
 * Users & keys: console accounts with their permissions, and API keys. Loaded on demand: it is the one page
 * that needs the permission labels and roles at run time, which bring zod with them.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { PERMISSION_LABELS, Permission, ROLES } from '../../../protocol/permissions.ts';
import { api, call, describeFailure, type User } from '../api.ts';
import { Dialog } from '../dialog.tsx';
import { dateTime } from '../format.ts';
import { KeysSection } from './keys.tsx';

const MIN_PASSWORD = 12;

function roleName(role: string): string {
  const words = role.replaceAll('-', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function PermissionPicker({ value, onChange }: { value: Permission[]; onChange: (next: Permission[]) => void }) {
  const toggle = (permission: Permission, on: boolean) =>
    onChange(Permission.options.filter((p) => (p === permission ? on : value.includes(p))));
  return (
    <fieldset class="permissions">
      <legend>Permissions</legend>
      <fieldset>
        <legend>Role presets:</legend>
        {Object.entries(ROLES).map(([role, permissions]) => (
          <button type="button" key={role} onClick={() => onChange([...permissions])}>
            {roleName(role)}
          </button>
        ))}
        <button type="button" onClick={() => onChange([])}>
          None
        </button>
      </fieldset>
      {Permission.options.map((permission) => (
        <label class="inline" key={permission}>
          <input
            type="checkbox"
            checked={value.includes(permission)}
            onChange={(e) => toggle(permission, e.currentTarget.checked)}
          />
          {PERMISSION_LABELS[permission]}
        </label>
      ))}
    </fieldset>
  );
}

function NewUserDialog({ onCreated, onClose }: { onCreated: (user: User) => void; onClose: () => void }) {
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [permissions, setPermissions] = useState<Permission[]>([]);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const body = { username, password, permissions, ...(displayName.trim() ? { displayName } : {}) };
      onCreated(await call(api.users.$post({ json: body })));
    } catch (failure) {
      setError(describeFailure(failure));
    }
  };

  return (
    <Dialog title="New user" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        {error && <p role="alert">{error}</p>}
        <div class="row">
          <label>
            Username
            <input required autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </label>
          <label>
            Display name (optional)
            <input value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
          </label>
          <label>
            Temporary password
            <input
              type="password"
              autocomplete="new-password"
              required
              minLength={MIN_PASSWORD}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
        </div>
        <p class="muted">At least {MIN_PASSWORD} characters. They choose their own password at first sign-in.</p>
        <PermissionPicker value={permissions} onChange={setPermissions} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Create user
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** What an administrator changes on an existing user, one dialog at a time. */
type Editing = { kind: 'new' } | { kind: 'permissions'; user: User } | { kind: 'password'; user: User };

function EditPermissions({
  user,
  onSave,
  onClose,
}: {
  user: User;
  onSave: (p: Permission[]) => void;
  onClose: () => void;
}) {
  const [permissions, setPermissions] = useState<Permission[]>(user.permissions);
  return (
    <Dialog title={`Permissions of ${user.username}`} onClose={onClose}>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          onSave(permissions);
        }}
      >
        <PermissionPicker value={permissions} onChange={setPermissions} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Save permissions
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ResetPassword({ user, onSave, onClose }: { user: User; onSave: (p: string) => void; onClose: () => void }) {
  const [password, setPassword] = useState('');
  return (
    <Dialog title={`Reset the password of ${user.username}`} onClose={onClose}>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          onSave(password);
        }}
      >
        <p>They are signed out everywhere and must choose a new password at their next sign-in.</p>
        <label>
          New temporary password
          <input
            type="password"
            autocomplete="new-password"
            required
            minLength={MIN_PASSWORD}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Reset password
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function UsersSection() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [editing, setEditing] = useState<Editing | null>(null);

  const load = useCallback(() => {
    call(api.users.$get())
      .then((r) => setUsers(r.users))
      .catch((e: unknown) => setError(describeFailure(e)));
  }, []);
  useEffect(load, [load]);

  const change = async (user: User, body: Partial<Pick<User, 'permissions' | 'disabled'>> & { password?: string }) => {
    try {
      await call(api.users[':id'].$patch({ param: { id: user.id }, json: body }));
      setEditing(null);
      setError(null);
      setNotice(
        body.password
          ? `The password of ${user.username} was reset.`
          : body.disabled !== undefined
            ? `${user.username} is ${body.disabled ? 'disabled' : 'enabled'}.`
            : `The permissions of ${user.username} were saved.`,
      );
      load();
    } catch (failure) {
      setEditing(null);
      setNotice(null);
      setError(describeFailure(failure));
    }
  };

  const unlock = async (user: User) => {
    try {
      await call(api.users[':id'].unlock.$post({ param: { id: user.id } }));
      setError(null);
      setNotice(`${user.username} can sign in again without waiting.`);
      load();
    } catch (failure) {
      setNotice(null);
      setError(describeFailure(failure));
    }
  };

  return (
    <section aria-labelledby="users-title">
      <div class="toolbar">
        <h2 id="users-title">Users</h2>
        <button type="button" onClick={() => setEditing({ kind: 'new' })}>
          New user
        </button>
      </div>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && <p role="alert">{error}</p>}
      {users === null && !error && <p>Loading…</p>}
      {users && (
        <table>
          <thead>
            <tr>
              <th>Username</th>
              <th>Display name</th>
              <th>Permissions</th>
              <th>Status</th>
              <th>Last sign-in</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.id}>
                <td>{user.username}</td>
                <td>{user.displayName}</td>
                <td>
                  {user.permissions.length === 0
                    ? 'None'
                    : user.permissions.map((p) => PERMISSION_LABELS[p]).join(', ')}
                </td>
                <td>
                  {user.disabled ? 'Disabled' : 'Active'}
                  {user.mustChangePassword && <span class="muted"> (must change password)</span>}
                  {user.signInThrottled && <span class="muted"> (sign-ins held back after failures)</span>}
                </td>
                <td class="nowrap">{dateTime(user.lastLoginAt)}</td>
                <td class="actions">
                  <button type="button" onClick={() => setEditing({ kind: 'permissions', user })}>
                    Edit permissions
                  </button>
                  <button type="button" onClick={() => setEditing({ kind: 'password', user })}>
                    Reset password
                  </button>
                  <button type="button" onClick={() => change(user, { disabled: !user.disabled })}>
                    {user.disabled ? 'Enable' : 'Disable'}
                  </button>
                  {user.signInThrottled && (
                    <button type="button" onClick={() => unlock(user)}>
                      Unlock
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing?.kind === 'new' && (
        <NewUserDialog
          onClose={() => setEditing(null)}
          onCreated={(user) => {
            setEditing(null);
            setError(null);
            setNotice(`User ${user.username} created. They must choose a new password at first sign-in.`);
            load();
          }}
        />
      )}
      {editing?.kind === 'permissions' && (
        <EditPermissions
          user={editing.user}
          onClose={() => setEditing(null)}
          onSave={(permissions) => change(editing.user, { permissions })}
        />
      )}
      {editing?.kind === 'password' && (
        <ResetPassword
          user={editing.user}
          onClose={() => setEditing(null)}
          onSave={(password) => change(editing.user, { password })}
        />
      )}
    </section>
  );
}

export function UsersAndKeysPage() {
  return (
    <>
      <UsersSection />
      <KeysSection />
    </>
  );
}
