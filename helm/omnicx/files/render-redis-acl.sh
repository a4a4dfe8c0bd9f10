#!/bin/sh
# Renders the Redis ACL file: render-redis-acl.sh TEMPLATE PASSWORD_DIR OUT
# Every "user NAME ... >{{PASSWORD}} ..." line of TEMPLATE gets the first line
# of PASSWORD_DIR/NAME in place of {{PASSWORD}}; comment and blank lines are
# dropped. Fails, naming the user, when a password file is missing or empty.
set -eu
umask 077
awk -v dir="$2" '
  /^[ \t]*(#|$)/ { next }
  {
    marker = "{{PASSWORD}}"
    i = index($0, marker)
    if (i > 0) {
      file = dir "/" $2
      pw = ""
      if ((getline pw < file) <= 0 || pw == "") {
        print "render-redis-acl: no password for Redis user " $2 " (" file ")" > "/dev/stderr"
        exit 1
      }
      close(file)
      $0 = substr($0, 1, i - 1) pw substr($0, i + length(marker))
    }
    print
  }' "$1" >"$3.tmp"
mv "$3.tmp" "$3"
