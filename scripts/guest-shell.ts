// `npm run guest`: build every lesson's module and program, boot the guest with the host root
// mounted, and give an interactive shell on its console (like xv6's `make qemu`). The builds are
// linked into /root/lab in the guest. Ctrl-A X (or `poweroff -f`) leaves.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chooseAccel } from '../guest/accel.js';
import { type Built, buildModule, buildProgram } from '../guest/build.js';
import { Guest } from '../guest/guest.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { guestKernel } from '../guest/kernel.js';
import { cachePath, progress, repoRoot, sourceRoot } from '../guest/paths.js';

const folders = (dir: string) =>
	existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name)) : [];

const kernel = guestKernel();
const initramfs = buildInitramfs(kernel);
const base = { vmlinux: kernel.vmlinux, initramfs, kernelVersion: kernel.version, kernelBuildDir: kernel.buildDir };
const accel = await chooseAccel(base);

const built: Built[] = [];
for (const dir of folders(path.join(sourceRoot, 'kernel'))) {
	progress(`building ${path.relative(sourceRoot, dir)}`);
	built.push(await buildModule(dir, kernel.buildDir).catch((e: Error) => (progress(e.message), undefined as never)));
}
for (const dir of folders(path.join(sourceRoot, 'userspace'))) {
	progress(`building ${path.relative(sourceRoot, dir)}`);
	built.push(await buildProgram(dir).catch((e: Error) => (progress(e.message), undefined as never)));
}
const links = built.filter(Boolean).map((b) => `ln -sf ${b.file} /root/lab/${path.basename(b.file)}`);
const profile = [
	'mkdir -p /root/lab && cd /root/lab',
	...links,
	`echo "kernel-security-lab guest: $(uname -r), ${accel}. Your builds are in /root/lab; the repository is at ${repoRoot} (read-only)."`,
	'echo "Try: insmod hello.ko; dmesg | tail; rmmod hello. Leave with Ctrl-A X or poweroff -f."',
	'PS1="lab-guest:\\w# "',
	'',
].join('\n');
// content-hashed name: the guest sees the host root over 9p with cache=loose
const profileFile = cachePath('guest-shell', `${createHash('sha256').update(profile).digest('hex').slice(0, 16)}.sh`);
writeFileSync(profileFile, profile);

progress(`booting the guest (${kernel.version}, ${accel}) with an interactive shell`);
const guest = await Guest.start(
	{ ...base, accel },
	{ interactive: true, memoryMiB: 512, append: ['lab.hostroot=1', `lab.profile=${profileFile}`] },
);
const { code } = await guest.exited;
await guest.close();
process.exit(code ?? 0);
