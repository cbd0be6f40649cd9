#!/usr/bin/env bash
# Builds one Linux kernel from Debian's linux-source-6.1: tinyconfig + fragments.
#
# usage: build.sh NAME OUTDIR FRAGMENT...
#
# The result (vmlinux, bzImage, config) is cached in $EMBER_CACHE (default
# ~/.cache/ember), keyed by the source package version and the fragments'
# contents, so a second build or a fresh clone on the same machine only copies.
# The object tree for NAME is kept too, so a fragment edit rebuilds incrementally.
set -euo pipefail

# Bump when this recipe changes in a way that changes the kernel it produces.
RECIPE_VERSION=1

name=$1
out=$2
shift 2
frags=()
for f in "$@"; do frags+=("$(realpath "$f")"); done

cache=${EMBER_CACHE:-$HOME/.cache/ember}
tarball=/usr/src/linux-source-6.1.tar.xz
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1) || {
	echo "build.sh: linux-source-6.1 is not installed (run make deps)" >&2
	exit 1
}
key=$({ echo "linux-source-6.1 $srcver recipe $RECIPE_VERSION"; cat "${frags[@]}"; } |
	sha256sum | cut -c1-16)
dest=$cache/kernel/$name-$key

mkdir -p "$cache"
exec 9>"$cache/.lock-$name"
flock 9

if [ ! -f "$dest/vmlinux" ]; then
	start=$(date +%s)
	src=$cache/src/linux-$srcver
	(
		flock 8
		if [ ! -f "$src/.unpacked" ]; then
			echo "  UNPACK  $tarball"
			rm -rf "$src.tmp" && mkdir -p "$src.tmp"
			tar -C "$src.tmp" --strip-components=1 -xf "$tarball"
			rm -rf "$src" && mv "$src.tmp" "$src"
			touch "$src/.unpacked"
		fi
	) 8>"$cache/.lock-src"

	obj=$cache/kbuild/$name
	mkdir -p "$obj"
	log=$obj/build.log
	echo "  KERNEL  $name (log: $log)"
	run() { "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "build.sh: failed: $*" >&2; exit 1; }; }
	: >"$log"
	run make -C "$src" O="$obj" ARCH=x86 tinyconfig
	run env -C "$obj" "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}"
	run make -C "$src" O="$obj" ARCH=x86 olddefconfig

	# Every option the fragments ask for must survive olddefconfig; a missing
	# dependency would otherwise drop it without a word. A later fragment
	# overrides an earlier one, as in merge_config.sh.
	declare -A want=()
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			want[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			want[${BASH_REMATCH[1]}]=n
		fi
	done < <(cat "${frags[@]}")
	bad=0
	for opt in "${!want[@]}"; do
		have=$(grep -E "^$opt=" "$obj/.config" | cut -d= -f2- || true)
		if [ "${want[$opt]}" = n ]; then
			[ -z "$have" ] && continue
		else
			[ "$have" = "${want[$opt]}" ] && continue
		fi
		echo "build.sh: $name: $opt=${want[$opt]} did not survive the merge (got: ${have:-not set})" >&2
		bad=1
	done
	[ $bad = 0 ] || exit 1

	run make -C "$src" O="$obj" ARCH=x86 -j"$(nproc)" vmlinux bzImage
	rm -rf "$dest.tmp"
	mkdir -p "$dest.tmp"
	cp "$obj/vmlinux" "$obj/arch/x86/boot/bzImage" "$dest.tmp/"
	cp "$obj/.config" "$dest.tmp/config"
	echo "$(($(date +%s) - start))" >"$dest.tmp/build-seconds"
	mv "$dest.tmp" "$dest"
	echo "  KERNEL  $name built in $(cat "$dest/build-seconds")s"
fi

mkdir -p "$out"
for f in vmlinux bzImage config; do
	if ! cmp -s "$dest/$f" "$out/$f"; then
		cp "$dest/$f" "$out/$f.tmp"
		mv -f "$out/$f.tmp" "$out/$f"
	fi
done
