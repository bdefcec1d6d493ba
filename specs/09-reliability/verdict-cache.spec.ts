// The module's optional verdict cache (kernel/execgate/cache.c, parameter cache, off by default;
// issue 8): with cache=1 and pass_fd=1 an exec the relay allowed is remembered per inode, and the
// next exec of the same unchanged file is allowed without asking the relay. Not a lesson.
//
// The fault is a change of the cached file by every route that does not go through exec: an
// append, an open for writing that writes nothing, a store through a MAP_SHARED mapping (only
// the first store to a page updates mtime: the times cannot prove a file unchanged, the open for
// writing can), a ctime change without any open (touch -c), a truncation through overlayfs
// (the upper inode gets no path_truncate: the inode_setattr hook drops it), a rename over it. After each the next exec must ask the relay again, and a file turned into the marker
// must be refused. Files on 9p are asked every time, the marker is never cached, a new relay
// starts with an empty cache, and with cache=0 (the default) or pass_fd=0 nothing is cached.
//
// Evidence: the module's decision line for each exec ("the cache allows" with the serial of the
// reused answer, or "the relay allows|denies" with a new one) and the relay's decision lines.
// Every check is soft: a run shows every case that went wrong, not only the first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildMarker } from '../../clamav/samples.js';
import { buildProgram } from '../../guest/build.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { repoRoot } from '../../guest/paths.js';
import { MODULE, PARAMS, type StartedRelay, decisionsFor, moduleLog, setParam, startRelay } from '../04-lsm/support.js';
import { DIR, setup } from './rounds.js';
import { expectHealthyKernel, figure, withGuests } from './support.js';

interface Exec {
	rc: number;
	output: string;
	/** The module's outcome text for this exec: "the relay allows", "the cache allows", ... */
	outcome: string;
	serial: number;
	/** Decisions the relay logged about this path while it ran. */
	asked: number;
}

const LINE = (file: string) => new RegExp(`^(allow|deny) ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (.*?) \\(query (\\d+), \\d+ ms\\)$`, 'gm');

/** Run `file` once; what the module decided about it and whether the relay was asked. */
async function execOnce(guest: LabGuest, relay: () => StartedRelay, file: string): Promise<Exec> {
	const before = [...(await moduleLog(guest)).matchAll(LINE(file))].length;
	const askedBefore = decisionsFor(relay().output(), file).length;
	const r = await guest.run(`${file}; echo "rc=$?"`, { timeoutMs: guest.ms(90_000) });
	const lines = [...(await moduleLog(guest)).matchAll(LINE(file))].slice(before);
	expect(lines.length, `the module logged one decision for this exec of ${file}:\n${lines.map((m) => m[0]).join('\n')}`).toBe(1);
	const [, , outcome, serial] = lines[0]!;
	if (/^the relay (allows|denies)$/.test(outcome!)) {
		// the relay logs its decision before it answers; its output reaches us on its own way
		await guest.waitUntil(`the relay's decision on ${file}`, async () => (decisionsFor(relay().output(), file).length > askedBefore ? true : undefined), 10_000).catch(() => {});
	} else {
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
	return {
		rc: Number(/rc=(\d+)/.exec(r.stdout)?.[1] ?? -1),
		output: r.stdout,
		outcome: outcome!,
		serial: Number(serial),
		asked: decisionsFor(relay().output(), file).length - askedBefore,
	};
}

describe('the module\'s verdict cache (cache=1)', () => {
	test('an unchanged clean program is allowed from the cache; an append, a MAP_SHARED store, a ctime change and a rename each make the next exec ask; 9p, the marker, a new relay, cache=0 and pass_fd=0 are never answered from it', { timeout: 400_000 }, async ({ onTestFinished }) => {
		await withGuests('verdict cache', async (vm) => {
			const guest = await vm.guest({ hostRoot: true });
			const clamd = await setup(guest);
			const poke = await guest.prepareFixtureProgram('reliability/mmap-poke');
			// a clean program on the host root (9p): the build of fixtures/lsm/hello-exec under the repository
			const onHost = (await buildProgram(path.join(repoRoot, 'fixtures', 'lsm', 'hello-exec'), { static: true })).file;
			// the marker with one byte of its string changed: clean for the hash signature, and it still runs
			const marker = await buildMarker();
			const markerBytes = readFileSync(marker.file);
			const offset = markerBytes.indexOf('harmless marker');
			expect(offset, 'the marker holds its string').toBeGreaterThan(0);
			const disguised = Buffer.from(markerBytes);
			disguised[offset] = markerBytes[offset]! ^ 0x20;
			await guest.put(`${DIR}/disguised`, disguised, 0o755);

			let relay = await startRelay(guest, `--clamd ${clamd.socket}`);
			const current = () => relay;
			const exec = (file: string) => execOnce(guest, current, file);
			const asked = (e: Exec, what: string, answer: 'allows' | 'denies' = 'allows') => {
				expect.soft(e.outcome, `${what}: the relay decides`).toBe(`the relay ${answer}`);
				expect.soft(e.asked, `${what}: the relay logged a decision for it`).toBe(1);
				expect.soft(e.rc, `${what}: ${answer === 'allows' ? 'it runs' : 'refused (126)'}\n${e.output}`).toBe(answer === 'allows' ? 0 : 126);
			};
			const fromCache = (e: Exec, reused: Exec, what: string) => {
				expect.soft(e.outcome, `${what}: the module allows it from its cache`).toBe('the cache allows');
				expect.soft(e.serial, `${what}: the line names the query whose answer it reuses`).toBe(reused.serial);
				expect.soft(e.asked, `${what}: the relay was not asked`).toBe(0);
				expect.soft(e.rc, `${what}: it runs\n${e.output}`).toBe(0);
			};
			const copy = async (name: string, from = `${DIR}/clean`) => {
				const r = await guest.run(`cp ${from} ${DIR}/${name}`);
				expect(r.status, r.output).toBe(0);
				return `${DIR}/${name}`;
			};
			let execs = 0;
			const count = <T>(x: T) => (execs++, x);

			// cache=0, the default: nothing is cached
			const param = await guest.run(`cat ${PARAMS}/cache`);
			expect(param.stdout.trim(), 'cache is off by default').toBe('N');
			await setParam(guest, 'pass_fd', 1);
			const off = await copy('off');
			asked(count(await exec(off)), 'cache=0 (default), first exec');
			asked(count(await exec(off)), 'cache=0 (default), second exec');

			// pass_fd=0: the relay scans whatever the path names (lesson 4.8): nothing is cached
			await setParam(guest, 'cache', 1);
			await setParam(guest, 'pass_fd', 0);
			const byPath = await copy('by-path');
			asked(count(await exec(byPath)), 'pass_fd=0, first exec');
			asked(count(await exec(byPath)), 'pass_fd=0, second exec');
			await setParam(guest, 'pass_fd', 1);

			// an unchanged clean program on tmpfs: asked once, then from the cache
			const prog = await copy('prog');
			let first = count(await exec(prog));
			asked(first, 'first exec');
			fromCache(count(await exec(prog)), first, 'second exec of the unchanged file');
			fromCache(count(await exec(prog)), first, 'third exec of the unchanged file');

			// an append (a writable open, a new size)
			expect((await guest.run(`echo >> ${prog}`)).status).toBe(0);
			first = count(await exec(prog));
			asked(first, 'after an append');
			fromCache(count(await exec(prog)), first, 'after an append, the next exec');

			// ctime changed without any open: touch -c sets the times by path
			expect((await guest.run(`touch -c ${prog}`)).status).toBe(0);
			first = count(await exec(prog));
			asked(first, 'after touch -c (ctime)');
			fromCache(count(await exec(prog)), first, 'after touch -c, the next exec');

			// an open for writing that writes nothing: size and times stay, yet the entry goes (the
			// cache trusts the write access, not the clock)
			const statOf = async () => (await guest.run(`stat -c '%s %y %z %i' ${prog}`)).stdout.trim();
			const statBefore = await statOf();
			expect((await guest.run(`: >> ${prog}`)).status).toBe(0);
			expect.soft(await statOf(), 'an open for writing without a write changes no time').toBe(statBefore);
			first = count(await exec(prog));
			asked(first, 'after an open for writing that wrote nothing');
			fromCache(count(await exec(prog)), first, 'after that open, the next exec');

			// truncate(2) through overlayfs: ovl_setattr() truncates the upper inode with
			// notify_change() and no path_truncate hook names it. A shrink and a regrowth to the old
			// size (the last byte becomes 0) also change ctime, so the next exec asks anyway; the
			// evidence that a hook dropped the entry is the module's debug line (dynamic debug).
			const ovl = `${DIR}/ovl`;
			const mounted = await guest.run(`modprobe overlay && mkdir -p ${ovl}/lower ${ovl}/upper ${ovl}/work ${ovl}/merged && cp ${DIR}/clean ${ovl}/upper/prog && mount -t overlay overlay -o lowerdir=${ovl}/lower,upperdir=${ovl}/upper,workdir=${ovl}/work ${ovl}/merged`);
			expect(mounted.status, mounted.output).toBe(0);
			const upper = `${ovl}/upper/prog`;
			const ino = (await guest.run(`stat -c %i ${upper}`)).stdout.trim();
			const dropLine = new RegExp(`^verdict dropped: inode ${ino} on tmpfs, truncated$`, 'gm');
			first = count(await exec(upper));
			asked(first, 'the upper file of an overlay, first exec');
			fromCache(count(await exec(upper)), first, 'the upper file of an overlay, second exec');
			expect((await guest.run(`echo 'module ${MODULE} +p' > /proc/dynamic_debug/control`)).status, 'dynamic debug on').toBe(0);
			const dropsBefore = [...(await moduleLog(guest)).matchAll(dropLine)].length;
			const shrunk = await guest.run(`python3 -c 'import os, sys; p = sys.argv[1]; n = os.stat(p).st_size; os.truncate(p, n - 1); os.truncate(p, n)' ${ovl}/merged/prog`);
			expect(shrunk.status, shrunk.output).toBe(0);
			expect.soft([...(await moduleLog(guest)).matchAll(dropLine)].length - dropsBefore, 'truncate(2) through the overlay dropped the upper inode\'s entry').toBeGreaterThan(0);
			first = count(await exec(upper));
			asked(first, 'after truncate(2) through the overlay');
			fromCache(count(await exec(upper)), first, 'after truncate(2) through the overlay, the next exec');
			// the control: truncate(2) of the upper file by its own path logs the same line
			const dropsDirect = [...(await moduleLog(guest)).matchAll(dropLine)].length;
			const direct = await guest.run(`python3 -c 'import os, sys; p = sys.argv[1]; os.truncate(p, os.stat(p).st_size)' ${upper}`);
			expect(direct.status, direct.output).toBe(0);
			expect.soft([...(await moduleLog(guest)).matchAll(dropLine)].length - dropsDirect, 'truncate(2) of the upper file by its own path dropped its entry').toBeGreaterThan(0);
			await guest.run(`echo 'module ${MODULE} -p' > /proc/dynamic_debug/control`);
			expect((await guest.run(`umount ${ovl}/merged`)).status, 'umount the overlay').toBe(0);

			// a store through a MAP_SHARED mapping turns the disguised marker back into the marker
			// (same size; only a page's first store updates mtime: the writable open is what tells)
			const d = `${DIR}/disguised`;
			const dFirst = count(await exec(d));
			asked(dFirst, 'the disguised marker (clean for the hash signature)');
			fromCache(count(await exec(d)), dFirst, 'the disguised marker again');
			const poked = await guest.run(`${poke} ${d} ${offset} ${markerBytes[offset]}`);
			expect(poked.stdout, poked.output).toContain('poked');
			asked(count(await exec(d)), 'after the MAP_SHARED store made it the marker', 'denies');

			// replaced by rename: another inode, here the marker's content
			const swapped = await guest.run(`cp ${DIR}/marker ${prog}.new && mv ${prog}.new ${prog}`);
			expect(swapped.status, swapped.output).toBe(0);
			asked(count(await exec(prog)), 'after the marker was renamed over it', 'denies');

			// the marker is never cached: denied and asked every time
			for (const n of [1, 2]) asked(count(await exec(`${DIR}/marker`)), `the marker, exec ${n}`, 'denies');

			// a program on the host root (9p): asked every time
			for (const n of [1, 2]) asked(count(await exec(onHost)), `${onHost} on 9p, exec ${n}`);

			// a new relay starts with an empty cache
			const kept = await copy('kept');
			first = count(await exec(kept));
			asked(first, 'before the relay restarts');
			fromCache(count(await exec(kept)), first, 'before the relay restarts, again');
			relay.kill(15);
			const stopped = await relay.result;
			expect(stopped.status, `the relay stops on SIGTERM:\n${stopped.output.slice(-1000)}`).toBe(0);
			relay = await startRelay(guest, `--clamd ${clamd.socket}`);
			first = count(await exec(kept));
			asked(first, 'after the relay restarted');
			fromCache(count(await exec(kept)), first, 'after the relay restarted, again');

			// cache set to 0: flushed, and nothing is cached any more
			await setParam(guest, 'cache', 0);
			asked(count(await exec(kept)), 'after cache=0');
			asked(count(await exec(kept)), 'after cache=0, again');

			// unloading takes the cache's hooks off too
			relay.kill(15);
			await relay.result.catch(() => {});
			await clamd.stop();
			const rmmod = await guest.rmmod(MODULE);
			expect(rmmod.status, `rmmod: ${rmmod.output}`).toBe(0);
			expect(await moduleLog(guest)).toMatch(/^unloaded after \d+ execs, \d+ queries to the relay$/m);
			expect((await guest.run(`echo x >> ${DIR}/kept && ${DIR}/kept; echo rc=$?`)).stdout, 'opens and execs work after the unload').toContain('rc=0');
			expectHealthyKernel(guest, 'after the verdict cache cases');
			figure('verdict-cache', { execs_checked: execs });
		}, onTestFinished);
	});
});
