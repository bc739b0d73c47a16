import type { RouteRuntime } from './plan-runtime.js';

/**
 * First-match routing compiled from the plan: each route is a host test (exact or `*.suffix`),
 * a path-prefix test and a method set, tried in config order.
 */
interface CompiledRoute {
  readonly route: RouteRuntime;
  readonly host: string | null;
  readonly suffix: string | null;
  readonly prefix: string | null;
  readonly methods: ReadonlySet<string> | null;
}

export class RouteTable {
  readonly #routes: readonly CompiledRoute[];

  constructor(routes: readonly RouteRuntime[]) {
    this.#routes = routes.map((route) => {
      const plan = route.plan;
      const wildcard = plan.host?.startsWith('*.');
      return {
        route,
        host: wildcard ? null : plan.host,
        suffix: wildcard ? plan.host!.slice(1) : null,
        prefix: plan.pathPrefix,
        methods: plan.methods,
      };
    });
  }

  /** `host` is the lower-case Host name without port (or null when absent). */
  match(host: string | null, path: string, method: string): RouteRuntime | null {
    const routes = this.#routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      if (r.host !== null && r.host !== host) continue;
      if (r.suffix !== null && (host === null || !host.endsWith(r.suffix))) continue;
      if (r.prefix !== null && !path.startsWith(r.prefix)) continue;
      if (r.methods !== null && !r.methods.has(method)) continue;
      return r.route;
    }
    return null;
  }
}

/** "Example.COM:8080" → { name: "example.com", port: 8080 }; "[::1]:80" → { name: "::1", port: 80 }. */
export function splitHost(value: string | undefined): { name: string | null; port: number | null } {
  if (value === undefined || value === '') return { name: null, port: null };
  let name = value;
  let port: number | null = null;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    name = end === -1 ? value : value.slice(1, end);
    if (end !== -1 && value.charCodeAt(end + 1) === 58) port = Number(value.slice(end + 2)) || null;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon !== -1) {
      name = value.slice(0, colon);
      port = Number(value.slice(colon + 1)) || null;
    }
  }
  return { name: name.toLowerCase(), port };
}
