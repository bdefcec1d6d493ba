#!/bin/sh
# PID 1 of the test guest (busybox). It loads the modules the harness needs, then becomes the
# agent that serves the host over the virtio-serial port named lab.ctl.
# Kernel command line words it reads:
#   lab.mode=agent|shell   agent: serve the host (tests); shell: interactive shell on the console
#   lab.hostroot=1         mount the host root now (the shell); tests mount it after a restore,
#                          because a mounted 9p share blocks migration
#   lab.profile=PATH       shell mode: a script (host path) bash runs at start
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=linux

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
while read -r ko; do
	/sbin/insmod "$ko" || echo "lab-init: insmod $ko failed"
done < /etc/lab-modules

mode=agent
profile=
for word in $(cat /proc/cmdline); do
	case "$word" in
	lab.mode=*) mode=${word#lab.mode=} ;;
	lab.profile=*) profile=${word#lab.profile=} ;;
	lab.hostroot=1) /bin/lab-mount-hostroot ;;
	esac
done

# "quiet" boots at console loglevel 4. From now on everything but debug messages reaches the
# console, so the captured log holds the evidence: oopses and WARNINGs, but also the user-space
# segfault and trap lines and the OOM killer's victims, which are KERN_INFO/KERN_ERR.
echo 7 > /proc/sys/kernel/printk

if [ "$mode" = shell ]; then
	root=$(cat /run/lab-root 2>/dev/null || echo /)
	echo "lab: interactive guest; 'poweroff -f' or Ctrl-A X leaves."
	[ "$root" = / ] && exec setsid cttyhack sh -l
	exec setsid cttyhack chroot "$root" /bin/bash --rcfile "${profile:-/etc/bash.bashrc}" -i
fi

port=
for p in /sys/class/virtio-ports/vport*; do
	[ "$(cat "$p/name" 2>/dev/null)" = lab.ctl ] && port=/dev/${p##*/}
done
[ -n "$port" ] || { echo "lab-init: no lab.ctl port"; exec sh; }
exec /bin/lab-agent "$port"
