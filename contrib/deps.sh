#!/bin/sh
# Installs the build and test dependencies that are missing, and nothing when all
# are present.  Usage: deps.sh DEBIAN-PACKAGES... -- RPM-PACKAGES...
# Debian: dpkg-query decides what is missing; apt-get installs it (root only).
# RPM systems: rpm -q decides; dnf installs.
set -eu
deb=""; rpm=""; side=deb
for p in "$@"; do
	if [ "$p" = "--" ]; then side=rpm; continue; fi
	if [ $side = deb ]; then deb="$deb $p"; else rpm="$rpm $p"; fi
done

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $deb; do
		st=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
		case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
	done
	[ -z "$missing" ] && exit 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing (run 'make deps' as root)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
elif command -v rpm >/dev/null 2>&1 && command -v dnf >/dev/null 2>&1; then
	for p in $rpm; do rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"; done
	[ -z "$missing" ] && exit 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing RPM packages:$missing (run 'make deps' as root)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	dnf install -y -q $missing
else
	echo "deps: neither dpkg nor dnf found; install by hand:$deb" >&2
	exit 1
fi
