/** The admin roles of SPEC §4, lowest first: each can do what the ones before it can. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** True when `have` may do what `need` may. */
export function covers(have: Role, need: Role): boolean {
  return roleRank(have) >= roleRank(need);
}
