/**
 * @module sdk
 * Loads the AWS SDK v3 S3 client on first use, so `kith` commands that do
 * not touch S3 neither pay for it nor print anything.
 */

/** The `@aws-sdk/client-s3` module. */
export type S3Sdk = typeof import('@aws-sdk/client-s3');

/** The SDK's own switch for its "future releases need Node 22" notice. */
const NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

let loaded: Promise<S3Sdk> | undefined;

/**
 * Imports `@aws-sdk/client-s3` once. The pinned release supports Node 20
 * but prints a multi-line notice on stderr about later releases; a CLI
 * error must stay one line, so that one notice is switched off through the
 * SDK's documented variable (unless the user set it), and every other
 * warning still shows.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  const env = processEnv();
  if (env) env[NODE_WARNING_SWITCH] ??= 'true';
  loaded ??= import('@aws-sdk/client-s3');
  return loaded;
}

/** The environment on Node; none in a page, where configuration comes through options. */
function processEnv(): Record<string, string | undefined> | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
}

/** An environment variable, or undefined (always in a page). */
export function envVar(name: string): string | undefined {
  return processEnv()?.[name];
}
