#!/usr/bin/env bash
# Builds one read-only runtime image from Debian packages:
#   runtimes/build.sh <name> <outdir>
# leaves <outdir>/<name>.root/ (the staging tree, which the tests chroot into),
# <outdir>/<name>.versions (package and version of every .deb inside) and
# <outdir>/<name>.erofs (uncompressed erofs, the file the guest mounts as /).
#
# Nothing comes from the host's own filesystem. apt resolves the dependency
# closure against a private state (its own sources.list, package lists and an
# almost empty dpkg status), downloads the .debs into $EMBER_CACHE/debs, and
# each .deb is unpacked with `dpkg-deb -x`. No maintainer scripts run: what
# they would have generated (CA bundle, busybox links, bytecode) is made here.
# The host's tools only act on the tree: dpkg-deb, mkfs.erofs, and chroot to
# run the image's own python when precompiling its stdlib.
set -euo pipefail

name=${1:?usage: build.sh <name> <outdir>}
out=${2:?usage: build.sh <name> <outdir>}
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/$name/packages" ] || { echo "build.sh: no runtimes/$name/packages" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (dpkg-deb -x keeps owners, chroot)" >&2; exit 1; }

cache=${EMBER_CACHE:-$HOME/.cache/ember}
debs=$cache/debs        # downloaded .debs, kept across builds: rebuilds need no network
aptdir=$cache/apt       # private apt state: lists, config, status
root=$out/$name.root
mkdir -p "$out" "$debs/partial" "$aptdir/lists/partial" "$aptdir/cache" "$aptdir/parts"

# Package names, one a line, '#' comments.
read_list() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$@"; }

# The apt state and the .debs are shared by all images, and `make -j` builds
# images in parallel: one apt at a time.
exec 9>"$cache/apt.lock"
flock 9

# --- private apt: Debian bookworm main only, whatever the host's sources say ---
# (this host, for example, has nodejs 20 from nodesource in its dpkg status; the
# images must get Debian's.)
cat >"$aptdir/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
cat >"$aptdir/apt.conf" <<EOF
Dir::State "$aptdir";
Dir::State::lists "$aptdir/lists";
Dir::State::status "$aptdir/status";
Dir::Cache "$aptdir/cache";
Dir::Cache::archives "$debs";
Dir::Etc::sourcelist "$aptdir/sources.list";
Dir::Etc::sourceparts "-";
Dir::Etc::parts "$aptdir/parts";
Dir::Etc::preferencesparts "$aptdir/parts";
APT::Architecture "amd64";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF
# The dpkg status claims the exclude list is installed, so apt's resolver
# leaves those packages (and whatever only they depend on) out of the closure.
status=$(read_list "$here/exclude.packages" | while read -r p; do
	printf 'Package: %s\nStatus: install ok installed\nVersion: 9999\n' "$p"
	printf 'Architecture: amd64\nMaintainer: ember\nDescription: not in the image\n\n'
done)
printf '%s\n' "$status" >"$aptdir/status.new" && mv "$aptdir/status.new" "$aptdir/status"
apt() { APT_CONFIG=$aptdir/apt.conf "$@"; }

mapfile -t pkgs < <(read_list "$here/base/packages" "$here/$name/packages")

if ! compgen -G "$aptdir/lists/*_Packages*" >/dev/null; then
	echo "build.sh: apt-get update (private lists under $aptdir)"
	apt apt-get update -qq
fi
# The closure, as apt would install it, one line per package:
#   Inst <pkg> (<version> <release>[, <release>...] [<arch>])[ [<what it breaks>]]
# becomes "<pkg> <version> <arch>". A line that does not parse stops the build
# rather than leaving a package out.
resolve() {
	local sim line
	sim=$(apt apt-get install -s -y "${pkgs[@]}")
	closure=()
	while read -r line; do
		[[ $line =~ ^Inst\ ([^ ]+)\ \(([^ ]+)\ [^[]*\[([a-z0-9]+)\]\)( \[.*\])?$ ]] ||
			{ echo "build.sh: cannot parse apt's '$line'" >&2; exit 1; }
		closure+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}")
	done < <(grep '^Inst ' <<<"$sim")
	[ ${#closure[@]} -gt 0 ] || { echo "build.sh: apt resolved nothing for ${pkgs[*]}" >&2; exit 1; }
}
resolve
# Downloads only what the cache lacks. If the lists are older than the
# mirror (a security update replaced a .deb), refresh them once and retry.
if ! apt apt-get install --download-only -qq -y "${pkgs[@]}" >/dev/null; then
	apt apt-get update -qq
	resolve
	apt apt-get install --download-only -qq -y "${pkgs[@]}" >/dev/null
fi
flock -u 9

# --- unpack ---
rm -rf "$root" "$out/$name.versions.new"
mkdir -p "$root"
for line in "${closure[@]}"; do
	read -r pkg ver arch <<<"$line"
	deb=$debs/${pkg}_${ver//:/%3a}_${arch}.deb # apt's archive name: epoch ':' as %3a
	[ -f "$deb" ] || { echo "build.sh: $deb missing after download" >&2; exit 1; }
	dpkg-deb -x "$deb" "$root"
	printf '%s %s\n' "$pkg" "$ver" >>"$out/$name.versions.new"
done
sort -o "$out/$name.versions.new" "$out/$name.versions.new"

# Documentation, manuals, translations and packaging metadata: unused at run time.
# glibc's gconv modules (8 MB) serve iconv() for legacy charsets only: UTF-8,
# ASCII and Latin-1 are built in, python has its own codecs, node uses ICU.
rm -rf "$root"/usr/share/{doc,doc-base,man,info,locale,lintian,bug,bash-completion,menu,gdb} \
	"$root"/usr/lib/debug "$root"/etc/{init.d,cron.daily,logrotate.d} \
	"$root"/usr/lib/x86_64-linux-gnu/gconv

# --- what the maintainer scripts would have made ---
# busybox: one link per applet (what `busybox --install -s` would do), where
# no package already put a real program. The binary is static, so it runs here.
bb=$root/bin/busybox
"$bb" --list-full | while read -r applet; do
	[ "$applet" = linuxrc ] && continue # init for initrds; ember-init is PID 1
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] && continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -s /bin/busybox "$root/$applet"
done

# ca-certificates: the bundle update-ca-certificates would write, from every
# certificate the package ships (its default /etc/ca-certificates.conf).
mkdir -p "$root/etc/ssl/certs"
find "$root/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
	sed -e '$a\' "$crt"
done >"$root/etc/ssl/certs/ca-certificates.crt"
# OpenSSL's default file (python's ssl, curl built on gnutls reads the bundle directly).
if [ -d "$root/usr/lib/ssl" ] && [ ! -e "$root/usr/lib/ssl/cert.pem" ]; then
	ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
fi

# --- ember's files ---
cp -a "$here/base/rootfs/." "$root/"
# Mount points: ember-init mounts proc, sysfs, devtmpfs, a tmpfs on /tmp and
# the function's code image on /var/task; the image itself is never written.
mkdir -p "$root"/{proc,sys,dev,tmp,root,var/task,var/runtime,opt,home}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
if [ -d "$here/$name/runtime" ]; then
	cp -a "$here/$name/runtime/." "$root/var/runtime/"
fi

# The image's own interpreter compiles its stdlib: a read-only image cannot
# cache bytecode at run time, so without this every cold start recompiles every
# import. unchecked-hash pycs do not depend on source mtimes (the image's
# mtimes are fixed by mkfs below) and are never revalidated: the image cannot change.
if [ -x "$root/usr/bin/python3" ]; then
	chroot "$root" /usr/bin/python3 -m compileall -q -o 0 \
		--invalidation-mode unchecked-hash /usr/lib/python3.11 >/dev/null
fi

# --- the image ---
# No compression: the guest kernel enables EROFS_FS without EROFS_FS_ZIP
# (kernel-config/guest.fragment). Fixed timestamps, owners and a UUID derived
# from the package list make the same inputs give the same image.
uuid=$({ echo "$name"; cat "$out/$name.versions.new"; } | sha256sum |
	sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
mkfs.erofs --quiet -T0 --all-root -U "$uuid" "$out/$name.erofs.new" "$root"
mv "$out/$name.versions.new" "$out/$name.versions"
mv "$out/$name.erofs.new" "$out/$name.erofs"
printf 'runtime %s: %s packages, %s\n' "$name" "$(wc -l <"$out/$name.versions")" \
	"$(du -h --apparent-size "$out/$name.erofs" | cut -f1)"
