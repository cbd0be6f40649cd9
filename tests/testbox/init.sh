#!/bin/busybox sh
# PID 1 of the testbox's L1. It mounts what L1 needs, makes the host's
# Debian userland (/usr, /etc, read-only over 9p) and the checkout (read-write
# over 9p, at the same absolute path as on the host) visible, then starts the
# command agent. Options come from the kernel command line:
#   testbox.share=PATH  where the checkout is mounted
#   testbox.port=N      the agent's TCP port (forwarded from host loopback)
#   testbox.shell=1     an interactive shell on the console instead
bb=/bin/busybox
$bb mkdir -p /proc /sys /dev /tmp /run /usr /etc /root
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$bb mount -t tmpfs -o mode=1777 tmpfs /tmp
$bb mount -t tmpfs tmpfs /run
$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup
# /disk: an empty ext4 on the host's disk (testbox.py, make_disk), for what
# must not sit in L1's memory as /tmp's files do.
$bb mkdir -p /disk
if [ -b /dev/vda ]; then
	$bb mount -t ext4 -o noinit_itable /dev/vda /disk && $bb chmod 1777 /disk
fi

share= port=7000 shell=0
for word in $($bb cat /proc/cmdline); do
	case $word in
	testbox.share=*) share=${word#*=} ;;
	testbox.port=*) port=${word#*=} ;;
	testbox.shell=*) shell=${word#*=} ;;
	esac
done

opts=trans=virtio,version=9p2000.L,msize=512000
# The host's userland never changes under us: let L1 cache it.
$bb mount -t 9p -o $opts,ro,cache=loose hostusr /usr &&
	$bb mount -t 9p -o $opts,ro,cache=loose hostetc /etc || echo "testbox: host /usr not mounted"
# Merged /usr, as on Debian 12, so host binaries find their loader and libraries.
for d in bin sbin lib lib64; do
	[ -e /usr/$d ] && $bb ln -s usr/$d /$d.host
done
if [ -e /usr/bin/sh ]; then
	$bb mv /bin /busybox
	bb=/busybox/busybox
	for d in bin sbin lib lib64; do [ -e /$d.host ] && $bb mv /$d.host /$d; done
fi
if [ -n "$share" ]; then
	$bb mkdir -p "$share"
	# cache=mmap: the host edits these files, but ember maps kernels and images.
	$bb mount -t 9p -o $opts,cache=mmap work "$share" || echo "testbox: cannot mount the checkout at $share"
fi
$bb ip link set lo up
# Errors and worse reach the console (console.log): an OOM kill, an oops.
$bb sysctl -qw kernel.printk="4 4 1 3"
# No transparent huge pages in L1. ember-vmm asks for them for guest memory
# (MADV_HUGEPAGE), and backed by them, nested guests under TCG's emulated
# nested paging triple-faulted or hung within seconds: in 6 of 6 runs of
# test_emberd_abuse.py on a fresh L1 one did; with THP off, 0 of 2 (their
# other failures were the L1 death l1_death.py names, and a slow /tmp fill),
# and the next make bench met one in about 280 starts and 1,130 invocations:
# fewer, not none. L1 only: on a hardware host the guests keep huge pages.
echo never >/sys/kernel/mm/transparent_hugepage/enabled
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox HOME=/root
export TESTBOX=1
cd "${share:-/}"

if [ "$shell" = 1 ]; then
	echo "testbox: shell (the checkout is at $share; 'poweroff -f' to leave)"
	$bb setsid $bb cttyhack $bb sh -l
	$bb poweroff -f
fi
exec /testbox/agent "$port"
