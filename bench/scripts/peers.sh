#!/usr/bin/env bash
# Debian packages the benchmarks compare Kith against: restic (the blobs
# section's peer: encrypted, chunked, deduplicated backups). Installed when
# missing and we are root with apt-get; otherwise says what to install and
# exits 1, so the section reports the peer as not measured.
set -uo pipefail
missing=()
command -v restic >/dev/null || missing+=(restic)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "kith bench: ${missing[*]} not installed (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "kith bench: could not install ${missing[*]} with apt-get" >&2
  exit 1
fi
echo "== installed ${missing[*]}" >&2
