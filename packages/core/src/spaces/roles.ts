/**
 * @module spaces/roles
 * A member's role in a space, apart from the membership chain's code (no
 * crypto), so an app or CLI can check a role without loading the spaces layer.
 */
export type Role = 'admin' | 'writer' | 'reader';
export const ROLES: readonly Role[] = ['admin', 'writer', 'reader'];
