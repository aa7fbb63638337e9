#!/usr/bin/env bash
# Installs the Debian packages in deps.txt (plus any extra list given as $1)
# that are missing. As root: apt-get install. Otherwise: print the exact line.
set -euo pipefail
cd "$(dirname "$0")/.."
lists=(deps.txt "$@")
missing=()
for list in "${lists[@]}"; do
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done < "$list"
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
else
  echo "nanomorph needs these Debian packages. Run, as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
