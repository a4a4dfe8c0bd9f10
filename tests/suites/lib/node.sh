# Sourced by the Node.js suites (tests/suites/*.sh): shared setup.
#
#   source "$(dirname "$0")/lib/node.sh"
#   npm_ci_if_needed "$ROOT/tests/e2e"

# Installs the folder's pinned packages (npm ci, from the npm cache when it
# can) unless node_modules already matches its package-lock.json.
npm_ci_if_needed() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}
