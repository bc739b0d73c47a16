import { useEffect, useRef, useState } from 'preact/hooks';
import type { Whoami } from '../../src/core/api-types.js';
import { ApiFailure, api, session } from './api.js';
import { dismiss, useNotes } from './notify.js';
import type { View } from './route.js';
import { useRoute } from './route.js';
import { Loading } from './ui.js';
import { AlertsView } from './views/alerts.js';
import { AuditView } from './views/audit.js';
import { ErrorsView } from './views/errors.js';
import { FleetView } from './views/fleet.js';
import { LiveView } from './views/live.js';
import { OverviewView } from './views/overview.js';
import { StoryView } from './views/story.js';

const NAV: readonly (readonly [View, string, string])[] = [
  ['overview', 'Overview', '#/overview'],
  ['live', 'Live requests', '#/live'],
  ['errors', 'Errors & clients', '#/errors'],
  ['alerts', 'Alerts', '#/alerts'],
  ['audit', 'Audit trail', '#/audit'],
  ['fleet', 'Fleet', '#/fleet'],
];

export function App() {
  const [me, setMe] = useState<Whoami | null>(null);
  const [checking, setChecking] = useState(session.token !== null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const off = session.onSignedOut((reason) => {
      setMe(null);
      setNotice(`You were signed out: ${reason}`);
    });
    if (session.token !== null)
      api<Whoami>('whoami')
        .then(setMe)
        .catch((err: Error) => {
          if (!(err instanceof ApiFailure) || err.status !== 401) setNotice(err.message);
        })
        .finally(() => setChecking(false));
    return off;
  }, []);

  if (checking) return <Loading what="your session" />;
  if (me === null)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(who) => {
          setNotice(null);
          setMe(who);
        }}
      />
    );
  return (
    <Shell
      me={me}
      onSignOut={() => {
        session.clear();
        setMe(null);
        setNotice('Signed out. The token was removed from this tab.');
      }}
    />
  );
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (me: Whoami) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = value.trim();
    if (t === '') {
      setError('Paste an admin token (it starts with tgt_).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const who = await api<Whoami>('whoami', { token: t });
      session.set(t);
      onSignedIn(who);
    } catch (err) {
      const f = err as ApiFailure;
      setError(
        f.status === 401
          ? `That token was not accepted: ${f.message}.`
          : f.status === 429
            ? f.message
            : `Could not sign in: ${f.message}`,
      );
      input.current?.select();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <form class="card signin-card" onSubmit={submit} aria-describedby="signin-help">
        <h1>
          <img src="./favicon.svg" alt="" width={28} height={28} /> Tollgate
        </h1>
        <p id="signin-help" class="muted">
          Sign in with an admin API token (<code>tollgate token create --name NAME --role viewer</code>). It
          is kept for this tab only and sent only to this Tollgate.
        </p>
        {notice !== null && (
          <p class="state note" role="status">
            {notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          ref={input}
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={value}
          aria-invalid={error !== null}
          aria-describedby={error === null ? undefined : 'signin-error'}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          placeholder="tgt_…"
        />
        {error !== null && (
          <p id="signin-error" class="state failed" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Shell({ me, onSignOut }: { me: Whoami; onSignOut: () => void }) {
  const route = useRoute();
  const notes = useNotes();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // move focus to the new view's heading, so keyboard and screen-reader users land on it
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route.view, route.id]);

  const active = route.view === 'request' ? 'live' : route.view;
  return (
    <>
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href="#/overview">
          <img src="./favicon.svg" alt="" width={22} height={22} /> Tollgate
        </a>
        <nav aria-label="Views">
          {NAV.map(([view, label, href]) => (
            <a key={view} href={href} aria-current={active === view ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span title={`instance ${me.instance}`}>
            {me.name} · <span class={`role ${me.role}`}>{me.role}</span>
            {me.elevation !== null && <span class="muted"> (elevated from {me.base_role})</span>}
          </span>
          <button type="button" class="link" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {route.view === 'overview' && <OverviewView me={me} />}
        {route.view === 'live' && <LiveView query={route.query} />}
        {route.view === 'request' && route.id !== null && <StoryView id={route.id} />}
        {route.view === 'errors' && <ErrorsView />}
        {route.view === 'alerts' && <AlertsView me={me} />}
        {route.view === 'audit' && <AuditView query={route.query} />}
        {route.view === 'fleet' && <FleetView me={me} query={route.query} />}
      </main>
      <div class="notes" aria-live="polite">
        {notes.map((n) => (
          <div key={n.id} class={`note ${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
            <span>{n.text}</span>
            {n.link !== undefined && <a href={n.link.href}>{n.link.label}</a>}
            <button type="button" class="link" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </>
  );
}
