#!/usr/bin/env bash
# Renders the Redis ACL users (helm/omnicx/files/redis-acl.conf) into a Redis
# ACL file on stdout, for a local or test redis-server (--aclfile). Used by
# ./omnicx and tests/e2e/harness.mjs; the Helm chart renders the same file.
#
#   tools/redis-acl/render.sh KEYS_DIR > users.acl
#
# Passwords come from KEYS_DIR: redis.pass for `default` (the operator) and
# redis-<user>.pass for each service user. A missing one is generated once
# (random, mode 0600) and then kept. The output holds only their SHA-256.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPLATE="${OMNICX_REDIS_ACL_TEMPLATE:-$ROOT/helm/omnicx/files/redis-acl.conf}"
KEYS_DIR="${1:?usage: render.sh KEYS_DIR > users.acl}"

mkdir -p "$KEYS_DIR"
chmod 700 "$KEYS_DIR"
sed_args=()
for user in $(grep -o '@[a-z0-9_-]*_password_sha256@' "$TEMPLATE" |
              sed 's/^@//; s/_password_sha256@$//' | sort -u); do
  if [ "$user" = default ]; then f="$KEYS_DIR/redis.pass"; else f="$KEYS_DIR/redis-$user.pass"; fi
  if [ ! -s "$f" ]; then
    # Written to a temporary file and renamed: a reader never sees half.
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '\n/+=' >"$f.$$" && mv "$f.$$" "$f")
  fi
  # As the services read it: trailing newlines dropped.
  hash=$(printf %s "$(cat "$f")" | sha256sum | cut -d' ' -f1)
  sed_args+=(-e "s/@${user}_password_sha256@/$hash/g")
done
grep -v -e '^#' -e '^[[:space:]]*$' "$TEMPLATE" | sed "${sed_args[@]}"
