#!/usr/bin/env bash
# Installs ember's build and test dependencies from Debian, by name.
# Idempotent and quick when nothing is missing: apt-get update runs only then.
set -euo pipefail

pkgs=(
	# C toolchain and the libraries ember links against
	gcc make pkg-config libc6-dev
	libcjson-dev libcap-ng-dev libfdt-dev libseccomp-dev libevent-dev libarchive-dev zlib1g-dev
	# emberd and the ember CLI: its state, code intake, hashes, HTTP clients
	libsqlite3-dev libcurl4-openssl-dev
	# tests
	libcmocka-dev python3 python3-pytest curl valgrind clang-format file
	# real Lambda clients, load and metrics tools for emberd's tests and benchmarks
	awscli python3-boto3 wrk prometheus gnuplot-nox
	# make fuzz: libFuzzer builds (make test replays the corpora with gcc)
	clang libclang-rt-14-dev
	# guest kernel build
	linux-source-6.1 bc flex bison libelf-dev libssl-dev xz-utils lz4 cpio dwarves rsync
	# images; runtime images also verify Debian's signatures (make runtimes)
	erofs-utils e2fsprogs debian-archive-keyring
	# the testbox (L1 userland) and the peer VMM for benchmarks
	qemu-system-x86 busybox-static util-linux iproute2
)

# One dpkg-query for all of them: this runs before every build.
missing=()
while read -r name status; do
	[ "$status" = installed ] || missing+=("$name")
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${pkgs[@]}" 2>&1 |
	sed -E 's/^dpkg-query: no packages found matching (.*)$/\1 missing/')
# Node.js and npm, for the AWS SDK for JavaScript test (tests/js): by command,
# since a host may have them from another Debian source (nodesource's nodejs
# carries npm, and Debian's npm package would conflict with it).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
