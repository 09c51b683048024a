/**
 * @module spaces
 * Shared spaces, first layer: person identities, the membership chain,
 * device certificates and invites. Not yet wired into the Vault.
 */
export * from './person.js';
export * from './membership-entry.js';
export * from './membership.js';
export * from './device-cert.js';
export * from './invite.js';
