import { expect } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { SIGNATURES, baseDatabase, buildMarker } from '../../clamav/samples.js';
import { lesson } from '../../guest/lesson.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { type StartedRelay, decisionsFor, loadExecgate, moduleFile, moduleLog, prepareFixture, setParam, startRelay } from './support.js';

const DIR = '/tmp/lab';
/** The relay holds each scan back this long: the window between the exec's open and the scan. */
const DELAY_MS = 2500;
const show = process.env.LAB_SHOW === '1';

/**
 * The attack: execute a copy of the marker, and while the relay waits to scan it, rename a clean
 * program over its path. The kernel runs the file it opened; a relay scanning by path judges the
 * file it finds there later.
 */
async function swapDuringScan(guest: LabGuest, relay: StartedRelay, name: string) {
	const prog = `${DIR}/${name}`;
	await guest.run(`cp ${DIR}/marker ${prog} && cp ${DIR}/clean ${prog}.decoy`);
	const exec = guest.spawn(`exec ${prog}`);
	const pid = await exec.pid;
	// the hook logs the exec just before it asks the relay: the file is open from here on
	await guest.waitUntil(`the module to log the exec of ${prog}`, async () => ((await moduleLog(guest)).includes(`exec ${prog} (pid ${pid})`) ? true : undefined));
	const swap = await guest.run(`mv ${prog}.decoy ${prog}`);
	expect(swap.status, `renaming the decoy over ${prog}: ${swap.output}`).toBe(0);
	expect(decisionsFor(relay.output(), prog), `the swap must happen before the relay has decided (it waits ${DELAY_MS} ms)`).toEqual([]);
	const result = await exec.result;
	const decision = decisionsFor(relay.output(), prog)[0];
	return { result, decision };
}

lesson(
	{
		id: '4.8',
		title: {
			en: 'Time of check, time of use: a file swapped between the exec and a scan by path runs the marker; with pass_fd=1 the relay scans the opened file and it is refused',
			ja: '検査時と使用時のずれ: 実行とパス名による検査の間にファイルをすり替えるとマーカーが動く。pass_fd=1 ならリレーは開かれたファイルそのものを検査し、拒否できる',
		},
		hint: {
			en: 'kernel/execgate/channel.c, relay_read(): with pass_fd, reserve a descriptor first with get_unused_fd_flags(O_CLOEXEC) (return the error if there is none) so that format_query() can name it; once the line is copied to the relay, fd_install(fd, exe) gives it the file the exec opened (take_query() took a reference with get_file()).',
			ja: 'kernel/execgate/channel.c の relay_read(): pass_fd のときは、format_query() が番号を書けるように、先に get_unused_fd_flags(O_CLOEXEC) で記述子を確保します（確保できなければそのエラーを返す）。行をリレーにコピーできたら fd_install(fd, exe) で、exec が開いたファイルを渡します（take_query() が get_file() で参照を取っています）。',
		},
		files: [moduleFile('channel.c')],
		requires: ['4.5'],
		timeoutMs: 180_000,
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
		await loadExecgate(guest, 'timeout_ms=30000');
		const clamd = await startClamdInGuest(guest, { databaseDir: database });
		await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
		await guest.upload(marker.file, `${DIR}/marker`);
		await guest.run(`chmod +x ${DIR}/marker`);
		const relay = await startRelay(guest, `--clamd ${clamd.socket} --delay-ms ${DELAY_MS}`);
		// the tools the attack runs get scanned (and delayed) once here, side by side, then come from the cache
		await guest.run(`cp ${DIR}/clean ${DIR}/warm & mv ${DIR}/clean.none ${DIR}/none 2>/dev/null & dmesg >/dev/null & wait`, { timeoutMs: guest.ms(60_000) });

		// by path: the relay scans the decoy, allows, and the kernel runs the marker it opened
		const byPath = await swapDuringScan(guest, relay, 'by-path');
		expect(byPath.decision, `the relay decided about the path, after the swap:\n${relay.output().slice(-2000)}`).toMatchObject({ fd: -1, answer: 'allow', verdict: 'clean' });
		expect({ status: byPath.result.status, stdout: byPath.result.stdout }, 'the marker ran (exit 0, and not the decoy\'s "hello-exec ran")').toEqual({ status: 0, stdout: '' });

		// by descriptor: the relay scans the very file being executed, whatever the path names now
		await setParam(guest, 'pass_fd', 1);
		const byFd = await swapDuringScan(guest, relay, 'by-fd');
		expect(byFd.decision, `with pass_fd=1 the query carries a descriptor and the relay scans it:\n${relay.output().slice(-2000)}`).toMatchObject({
			answer: 'deny',
			verdict: 'found',
			signature: SIGNATURES.markerHash,
		});
		expect(byFd.decision?.fd, 'the query names a descriptor installed in the relay').toBeGreaterThanOrEqual(0);
		expect({ status: byFd.result.status, stderr: byFd.result.stderr }, 'the swapped exec is refused').toMatchObject({ status: 126, stderr: expect.stringMatching(/Operation not permitted/) });

		// the relay closed every descriptor it was handed
		const fds = await guest.run(`set -- /proc/${relay.pidNumber}/fd/*; echo $#`);
		expect(Number(fds.stdout.trim()), 'descriptors open in the relay: handed ones must be closed after the scan').toBeLessThan(40);
		if (show) {
			process.stdout.write(
				`\n  4.8 swap during the scan: by path -> ${byPath.decision?.answer} (${byPath.decision?.verdict}), the marker ran (exit ${byPath.result.status}); ` +
					`by descriptor -> ${byFd.decision?.answer} (${byFd.decision?.verdict} ${byFd.decision?.signature}), exit ${byFd.result.status}\n`,
			);
		}
		relay.kill(15);
		expect((await relay.result).status).toBe(0);
		await clamd.stop();
		expect(guest).not.toHaveKernelEvent('oops');
	},
);
