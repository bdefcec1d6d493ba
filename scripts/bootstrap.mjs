#!/usr/bin/env node
// First step of `npm test`, `npm run demo` and `npm run guest`. Node built-ins only: it runs
// before node_modules exists. Installs the Debian packages the course needs when any is
// missing, and runs `npm ci` when node_modules is missing or older than package-lock.json.
// With everything in place it only asks dpkg and hashes one file.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEBIAN_PACKAGES = [
	'qemu-system-x86', 'linux-image-amd64', 'linux-headers-amd64', 'busybox-static', 'gcc', 'make', 'cpio',
	'xz-utils', 'strace', 'ltrace', 'clamav-daemon', 'clamav', 'clamdscan', 'libclamav-dev', 'clamav-testfiles',
	'clamfs', 'fuse3',
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`[setup] ${msg}\n`);

/** Packages from the list that dpkg does not report as installed. */
export function missingPackages(packages = DEBIAN_PACKAGES) {
	const r = spawnSync('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Abbrev}\n', ...packages], { encoding: 'utf8' });
	if (r.error) throw new Error(`dpkg-query not found: this course needs Debian 12 (bookworm) or a derivative (${r.error.message})`);
	const installed = new Set(
		r.stdout
			.split('\n')
			.filter((l) => /\tii/.test(l))
			.map((l) => l.split('\t')[0].replace(/:.*/, '')),
	);
	return packages.filter((p) => !installed.has(p));
}

function installPackages() {
	const missing = missingPackages();
	if (missing.length === 0) return;
	const command = `apt-get install -y ${missing.join(' ')}`;
	if (process.getuid?.() !== 0) {
		say(`missing Debian packages: ${missing.join(' ')}`);
		say(`run this as root, then try again:\n\n    sudo ${command}\n`);
		process.exit(1);
	}
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const log = path.join(root, '.cache', 'apt.log');
	execFileSync('mkdir', ['-p', path.dirname(log)]);
	const step = (what, args) => {
		const t0 = Date.now();
		say(`${what} ...`);
		const r = spawnSync('apt-get', args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
		writeFileSync(log, `$ apt-get ${args.join(' ')}\n${r.stdout}${r.stderr}`, { flag: 'a' });
		if (r.status !== 0) {
			say(`apt-get ${args[0]} failed (exit ${r.status}); the end of its output (full log: ${path.relative(root, log)}):`);
			process.stderr.write(`${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}\n`);
			process.exit(1);
		}
		say(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
	};
	step('apt-get update', ['update', '-q']);
	step(`installing ${missing.length} Debian packages (${missing.join(' ')})`, ['install', '-y', '-q', ...missing]);
	const still = missingPackages();
	if (still.length) {
		say(`still missing after apt-get install: ${still.join(' ')}`);
		process.exit(1);
	}
}

function installNodeModules() {
	const lock = path.join(root, 'package-lock.json');
	const stamp = path.join(root, 'node_modules', '.lab-lock.sha256');
	const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
	if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
	say(existsSync(path.join(root, 'node_modules')) ? 'package-lock.json changed: npm ci ...' : 'npm ci (first run) ...');
	const t0 = Date.now();
	const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
	if (r.status !== 0) {
		say(`npm ci failed (exit ${r.status})`);
		process.exit(1);
	}
	writeFileSync(stamp, want);
	say(`npm ci: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const [major] = process.versions.node.split('.').map(Number);
	if (major < 20) {
		say(`Node.js ${process.versions.node} is too old: the course needs Node.js 20 or newer`);
		process.exit(1);
	}
	installPackages();
	installNodeModules();
}
