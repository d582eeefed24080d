#!/bin/sh
# Builds the Debian package from a staged install.
#   build.sh STAGE OUTDIR VERSION
# STAGE is `make install DESTDIR=STAGE PREFIX=/usr SYSCONFDIR=/etc` with the
# man pages compressed; OUTDIR receives tollgate_VERSION-REV_ARCH.deb.  The
# run-time dependencies come from the ELF files (dpkg-shlibdeps), the control
# file from dpkg-gencontrol; the package tree is a temporary directory.
set -eu
umask 022
here=$(cd "$(dirname "$0")" && pwd)
stage=$(cd "$1" && pwd) out=$(cd "$2" && pwd) version=$3

rev=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
case "$rev" in
"$version"-*) ;;
*)	echo "deb: $here/changelog is at $rev but the build is $version: add a changelog entry" >&2
	exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/debian" "$root"
cp -R "$stage/." "$root/"
cp "$here/control" "$here/changelog" "$work/debian/"

doc=$root/usr/share/doc/tollgate
mkdir -p "$doc" "$root/usr/share/lintian/overrides" "$root/DEBIAN"
cp "$here/copyright" "$doc/copyright"
gzip -9n <"$here/changelog" >"$doc/changelog.Debian.gz"
cp "$here/lintian-overrides" "$root/usr/share/lintian/overrides/tollgate"
cp "$here/conffiles" "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	cp "$here/$s" "$root/DEBIAN/$s"
	chmod 0755 "$root/DEBIAN/$s"
done

# whatever the umask of the stage was: directories 0755, files not writable
# but by their owner
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod go-w {} +

(
	cd "$work"
	dpkg-shlibdeps -Tdebian/substvars root/usr/sbin/tollgated root/usr/bin/tollctl
	dpkg-gencontrol -ptollgate -Proot -Tdebian/substvars -fdebian/files
)

# md5sums of every file but the conffiles, which dpkg tracks by itself
(
	cd "$root"
	find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort >"$work/files"
	sed 's|^/||' DEBIAN/conffiles >"$work/conffiles"
	grep -vxF -f "$work/conffiles" "$work/files" | xargs md5sum >DEBIAN/md5sums
)

deb=$out/tollgate_${rev}_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "deb: $deb"
