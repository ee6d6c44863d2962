#!/bin/sh
# inetd's internal echo service (Debian openbsd-inetd), in the foreground, on HOST PORT.
#   usage: inetd-echo.sh HOST PORT
#
# Not upstream code: a launcher. inetd itself runs unchanged, with its defaults (`nowait`,
# 256 invocations a minute). A built-in service is named, not numbered: inetd matches the
# first field of its configuration against its table of built-ins ("echo") and binds the port
# getaddrinfo() finds for that name in /etc/services (7). To give it PORT without touching the
# machine's files, inetd runs in a private mount namespace (owned by a private user namespace,
# so no privilege is needed) where a generated services file, saying "echo PORT/tcp", is
# bind-mounted over /etc/services; the file is removed once mounted (the mount keeps it).
# The configuration comes on stdin; inetd reads it once at start. Every `exec` keeps one
# process: the kit starts, signals and measures inetd itself.
set -eu
host=$1
port=$2
services=$(mktemp "${TMPDIR:-/tmp}/inetd-services.XXXXXX")
printf 'echo\t\t%s/tcp\n' "$port" >"$services"
exec unshare --mount --map-root-user sh -c '
    mount --bind "$1" /etc/services && rm -f "$1" && exec inetd -d /dev/stdin' \
    inetd-echo "$services" <<EOF
$host:echo	stream	tcp4	nowait	root	internal
EOF
