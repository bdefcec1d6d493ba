import { expect } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { SIGNATURES, baseDatabase, buildMarker } from '../../clamav/samples.js';
import { lesson } from '../../guest/lesson.js';
import { MODULE, decisionsFor, decisionsIn, prepareFixture, untilOutput } from './support.js';

const DIR = '/tmp/lab';
const show = process.env.LAB_SHOW === '1';

lesson(
	{
		id: '4.7',
		title: {
			en: 'The user-space way: a fanotify FAN_OPEN_EXEC_PERM relay passes each exec to clamd by descriptor (FILDES): the same refusals with no kernel module, and fail-open once it stops',
			ja: 'ユーザ空間だけで: fanotify の FAN_OPEN_EXEC_PERM を受けるリレーが、実行される各ファイルを記述子のまま clamd に渡す（FILDES）。カーネルモジュールなしで同じ拒否ができ、止まると必ず許可に戻る',
		},
		hint: {
			en: 'userspace/exec-fanotify/exec-fanotify.c: in main() fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC) and fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD, mount) for each MOUNT argument; in send_fildes() write "zFILDES" with its NUL byte, then sendmsg() one dummy byte whose control message is SOL_SOCKET/SCM_RIGHTS with the descriptor; in decide() allow our own events unscanned, scan_fd() every other event\'s fd and set the response to FAN_DENY when v says so (decide() writes the struct fanotify_response).',
			ja: 'userspace/exec-fanotify/exec-fanotify.c: main() で fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC) を呼び、MOUNT 引数ごとに fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD, mount) します。send_fildes() では NUL 付きの "zFILDES" を書いてから、SOL_SOCKET/SCM_RIGHTS の制御メッセージで記述子を載せたダミーの 1 バイトを sendmsg() します。decide() ではイベントの fd を scan_fd() し（自分の pid は除く）、clamd が何か見つけたら応答を FAN_DENY にします（struct fanotify_response は decide() が書きます）。',
		},
		files: ['userspace/exec-fanotify/exec-fanotify.c'],
		timeoutMs: 180_000,
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
		expect((await guest.run(`grep -c '^${MODULE} ' /proc/modules`)).stdout.trim(), 'no kernel module of ours is loaded').toBe('0');
		const clamd = await startClamdInGuest(guest, { databaseDir: database });
		const program = await guest.prepareProgram('exec-fanotify', { static: true });
		await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
		await guest.upload(marker.file, `${DIR}/marker`);
		await putEicar(guest, `${DIR}/eicar.com`);
		await guest.run(`chmod +x ${DIR}/marker ${DIR}/eicar.com && cp ${DIR}/clean ${DIR}/unscanned && ln -s ${DIR}/marker ${DIR}/harmless-looking && mkfifo ${DIR}/go`);

		// watch the mounts programs run from here: the host root (9p) and /tmp (tmpfs)
		const relay = await guest.startDaemon(`${program.path} --clamd ${clamd.socket} / /tmp`, /^exec-fanotify: ready /m, 'exec-fanotify to watch the mounts');
		expect(relay.output(), 'exec-fanotify should watch / and /tmp').toMatch(/^exec-fanotify: ready clamd=\S+ mounts=2 /m);

		const cases = [
			{ what: 'a clean program', run: `${DIR}/clean`, file: `${DIR}/clean`, allow: true },
			{ what: 'the marker ELF', run: `${DIR}/marker`, file: `${DIR}/marker`, allow: false, signature: SIGNATURES.markerHash },
			{ what: 'EICAR made executable', run: `${DIR}/eicar.com`, file: `${DIR}/eicar.com`, allow: false, signature: SIGNATURES.eicar },
			{ what: 'a symlink to the marker', run: `${DIR}/harmless-looking`, file: `${DIR}/marker`, allow: false, signature: SIGNATURES.markerHash },
		];
		if (show) process.stdout.write('\n  4.7 fanotify, no module: exec -> verdict\n');
		for (const c of cases) {
			const seen = decisionsIn(relay.output()).length;
			const r = await guest.run(c.run);
			if (c.allow) expect(r.stdout, `${c.what} (${c.run}) should run: ${r.output}\n--- exec-fanotify ---\n${relay.output().slice(-2000)}`).toBe('hello-exec ran\n');
			else {
				expect({ status: r.status, stderr: r.stderr }, `${c.what} (${c.run}) must be refused with EPERM (126)\n--- exec-fanotify ---\n${relay.output().slice(-2000)}`).toMatchObject({
					status: 126,
					stderr: expect.stringMatching(/Operation not permitted/),
				});
			}
			// exec-fanotify logs its decision after it answers the kernel: the exec may return first
			const logged = async () =>
				decisionsIn(relay.output())
					.slice(seen)
					.find((d) => d.path === JSON.stringify(c.file));
			const decision = await guest.waitUntil(`exec-fanotify's decision about ${c.file}`, logged, 10_000).catch(() => undefined);
			expect(decision, `exec-fanotify should log its decision about ${c.file}:\n${relay.output().slice(-2000)}`).toMatchObject({
				answer: c.allow ? 'allow' : 'deny',
				verdict: c.allow ? 'clean' : 'found',
				...(c.signature ? { signature: c.signature } : {}),
			});
			if (show) process.stdout.write(`  ${c.run.padEnd(28)} -> ${decision?.answer.padEnd(5)} ${decision?.verdict}${decision?.signature ? ` ${decision.signature}` : ''}; ${decision?.ms} ms\n`);
		}

		// clamd gone: nothing can be cleared, so the relay denies (on-error deny), the shell too:
		// this shell starts now and waits on a FIFO until clamd has stopped
		const waiting = guest.spawn(`echo waiting; read go < ${DIR}/go; ${DIR}/unscanned; echo "rc=$?"`);
		await untilOutput(guest, 'the waiting shell to start', waiting, (out) => out.startsWith('waiting\n'));
		await clamd.stop();
		await guest.put(`${DIR}/go`, 'go\n');
		expect((await waiting.result).stdout, 'with clamd gone the exec is refused').toBe('waiting\nrc=126\n');
		const why = await guest
			.waitUntil(`exec-fanotify's decision about ${DIR}/unscanned`, async () => decisionsFor(relay.output(), `${DIR}/unscanned`)[0], 10_000)
			.catch(() => undefined);
		expect(why, `and the relay says why:\n${relay.output().slice(-2000)}`).toMatchObject({ answer: 'deny', verdict: 'error', reason: expect.stringMatching(/clamd/) });

		// stop the relay: fanotify has no fail-closed; once the group is gone every exec runs
		relay.kill(15);
		const stopped = await relay.result;
		expect(stopped.status, `exec-fanotify should exit 0 on SIGTERM: ${stopped.output.slice(-1000)}`).toBe(0);
		expect(stopped.stdout).toMatch(/^exec-fanotify: stopped after \d+ decisions$/m);
		const after = await guest.run(`${DIR}/marker; echo "rc=$?"`);
		expect(after.stdout, 'without its listener fanotify lets even the marker run (fail-open by design)').toBe('rc=0\n');
		if (show) process.stdout.write('  relay stopped: the marker runs (fanotify always fails open)\n');
		expect(program.build.warnings, 'gcc -Wall -Wextra should print no warnings').toEqual([]);
		expect(guest).not.toHaveKernelEvent('oops');
	},
);
