#!/bin/sh
# Mount the host root (9p tag "hostroot", read-only) at /host with tmpfs where the guest writes,
# then point the agent at it: every later command runs chrooted there, with host tools
# (node, clamd, strace, ltrace), the guest kernel's own /lib/modules, and the course's folders.
# Idempotent: a second call does nothing.
set -e
[ -f /run/lab-root ] && exit 0
R=/host
mkdir -p $R
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot $R
mount -t tmpfs -o mode=1777 tmp $R/tmp
mount -t tmpfs -o mode=755 run $R/run
mount -t tmpfs -o mode=755 var $R/var
mkdir -p -m 1777 $R/var/tmp
mkdir -p $R/var/run $R/var/lib $R/var/log
mount -t tmpfs -o mode=700 root $R/root
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -o rbind /dev $R/dev
# the course's own folders (lab.share=TAG:PATH on the kernel command line) at their host paths,
# over the tmpfs above where they fall under /tmp, /run, /var or /root
for word in $(cat /proc/cmdline); do
	case "$word" in
	lab.share=*)
		share=${word#lab.share=}
		mkdir -p "$R${share#*:}"
		mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 "${share%%:*}" "$R${share#*:}"
		;;
	esac
done
echo $R > /run/lab-root
