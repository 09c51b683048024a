#!/usr/bin/env bash
# Debian packages the tests start for real: PostgreSQL (the relay's
# scale-out tests run throwaway servers from its binaries; no default
# cluster) and Chromium (browser tests, driven by playwright-core; its own
# browser download is not used). Installed when missing and we are root
# with apt-get; otherwise says what to install. Used by `npm test` and CI.
set -uo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ -z "${KITH_CHROMIUM:-}" ] && ! [ -x /usr/lib/chromium/chromium ] && ! [ -x /usr/bin/chromium ]; then missing+=(chromium); fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "kith tests: ${missing[*]} not installed; the tests that need it will fail (sudo apt-get install ${missing[*]})" >&2
  exit 0
fi
t0=$SECONDS
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/kith-tests.conf
log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "kith tests: could not install ${missing[*]} with apt-get" >&2
  exit 1
fi
echo "== installed ${missing[*]} in $((SECONDS - t0)) s"
