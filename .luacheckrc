-- luacheck configuration for the services' Redis scripts (services/*/lua/).
-- Redis runs them in Lua 5.1 with these globals, all read-only: Redis
-- refuses a script that writes a global.
std = "lua51"
read_globals = { "redis", "KEYS", "ARGV", "cjson", "cmsgpack", "bit", "struct" }
