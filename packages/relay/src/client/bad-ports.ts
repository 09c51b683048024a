/**
 * @module client/bad-ports
 * The ports the Fetch standard blocks ("bad ports"): browsers and Node's
 * fetch refuse to connect to them, so a relay listening there is
 * unreachable for every client, whatever the network says.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';

// https://fetch.spec.whatwg.org/#port-blocking (the same 82 ports Node 20's fetch refuses, checked here).
const BLOCKED = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137,
  139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Whether fetch refuses to connect to `port`. */
export function isFetchBlockedPort(port: number): boolean {
  return BLOCKED.has(port);
}

/**
 * Throws a one-line KithError (`code`) when fetch would refuse `port`:
 * better at once than as "bad port" after a round of retries.
 *
 * @example
 * assertFetchablePort(6000, ErrorCode.Usage, 'a relay') // throws: port 6000 is one browsers and fetch refuse…
 */
export function assertFetchablePort(port: number, code: ErrorCode, what: string): void {
  if (!BLOCKED.has(port)) return;
  throw new KithError(
    code,
    `port ${port} is one that browsers and fetch refuse to connect to (the Fetch standard's blocked ports), so ${what} there is unreachable`,
    {
      hint: 'use another port, e.g. 8787',
    },
  );
}
