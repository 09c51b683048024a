/**
 * @module @kith/relay
 * The relay's client remote (isomorphic: core only; on Node < 22 push
 * uses the optional `ws` package). The server is `@kith/relay-server`;
 * the wire protocol is `@kith/relay/protocol` and docs/RELAY.md.
 */
export { openRelayRemote, RelayRemote, type RelayRemoteOptions, type RelayAuthProvider } from './client/relay-remote.js';
export { relayDeviceAuth } from './client/device-auth.js';
export { parseRelayUrl, type RelayLocation } from './client/relay-url.js';
export { assertFetchablePort, isFetchBlockedPort } from './client/bad-ports.js';
export { DEFAULT_RELAY_RETRY, type RelayRetryPolicy } from './client/retry.js';
export type { WebSocketFactory, WebSocketLike } from './client/push-channel.js';
