#!/bin/sh
# Renders the Redis ACL file: render-redis-acl.sh TEMPLATE PASSWORD_DIR OUT
# TEMPLATE is files/redis-acl.conf: every "@NAME_password_sha256@" becomes
# the SHA-256 hex of the first line of PASSWORD_DIR/NAME (Redis's "#<hash>"
# form, so no plaintext password is written); comment and blank lines are
# dropped (Redis ACL files allow none). The `default` (operator) user is
# turned off when it has no password file; any other user without one is an
# error naming it.
set -eu
umask 077
: >"$3.tmp"
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1" | while IFS= read -r line; do
  name=$(printf '%s\n' "$line" | sed -n 's/.*@\([a-z0-9_-]*\)_password_sha256@.*/\1/p')
  if [ -n "$name" ]; then
    file="$2/$name"
    if [ ! -s "$file" ]; then
      if [ "$name" = default ]; then
        echo "user default off resetkeys resetchannels -@all" >>"$3.tmp"
        continue
      fi
      echo "render-redis-acl: no password for Redis user $name ($file)" >&2
      exit 1
    fi
    hash=$(head -n 1 "$file" | tr -d '\r\n' | sha256sum | cut -d' ' -f1)
    line=$(printf '%s\n' "$line" | sed "s/@${name}_password_sha256@/${hash}/")
  fi
  printf '%s\n' "$line" >>"$3.tmp"
done
mv "$3.tmp" "$3"
