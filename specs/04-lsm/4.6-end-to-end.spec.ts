import { expect } from 'vitest';
import { startClamdInGuest } from '../../clamav/daemon.js';
import { putEicar } from '../../clamav/eicar.js';
import { SIGNATURES, baseDatabase, buildMarker } from '../../clamav/samples.js';
import { lesson } from '../../guest/lesson.js';
import { MODULE, PARAMS, type RelayDecision, decisionsIn, loadExecgate, moduleFile, moduleLog, prepareFixture, setParam, startRelay } from './support.js';

const DIR = '/tmp/lab';
const show = process.env.LAB_SHOW === '1';

interface Case {
	what: string;
	/** What the shell runs. */
	run: string;
	/** The resolved path the module and the relay see. */
	file: string;
	allow: boolean;
	signature?: string;
}

lesson(
	{
		id: '4.6',
		title: {
			en: 'End to end: with execgate, clamd and the relay, a clean program runs while the marker, an executable EICAR and a symlink to the marker are refused (EPERM, 126); stopping the relay applies fail_closed',
			ja: '全体の動作確認: execgate・clamd・リレーがそろうと、普通のプログラムは動き、マーカー・実行可能にした EICAR・マーカーへのシンボリックリンクは拒否される（EPERM、126）。リレーを止めると fail_closed の方針になる',
		},
		hint: {
			en: 'This lesson puts 4.1 to 4.5 together: kernel/execgate (the hook asks the relay through /dev/execgate, d_path resolves the symlink) and clamav/relay.ts (clamd decides; its log has one line per decision). If an earlier lesson fails, fix that one first.',
			ja: 'このレッスンは 4.1〜4.5 の総まとめです: kernel/execgate（フックは /dev/execgate でリレーに尋ね、d_path がシンボリックリンクを解決する）と clamav/relay.ts（clamd が判定し、判定ごとに 1 行記録する）。前のレッスンが失敗していたら、先にそちらを直してください。',
		},
		files: [moduleFile('hook.c'), moduleFile('channel.c'), 'clamav/relay.ts'],
		requires: ['4.5'],
		timeoutMs: 180_000,
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true });
		const [database, marker] = await Promise.all([baseDatabase(), buildMarker()]);
		await loadExecgate(guest, 'timeout_ms=10000');
		const clamd = await startClamdInGuest(guest, { databaseDir: database });
		await prepareFixture(guest, 'hello-exec', `${DIR}/clean`);
		await guest.upload(marker.file, `${DIR}/marker`);
		await putEicar(guest, `${DIR}/eicar.com`);
		await guest.run(`chmod +x ${DIR}/marker ${DIR}/eicar.com && ln -s ${DIR}/marker ${DIR}/harmless-looking && mkfifo ${DIR}/go`);

		const relay = await startRelay(guest, `--clamd ${clamd.socket}`);
		// from now on an exec nobody answers is denied (set after the relay started: no relay, no node)
		await setParam(guest, 'fail_closed', 1);

		const cases: Case[] = [
			{ what: 'a clean program', run: `${DIR}/clean`, file: `${DIR}/clean`, allow: true },
			{ what: 'the marker ELF', run: `${DIR}/marker`, file: `${DIR}/marker`, allow: false, signature: SIGNATURES.markerHash },
			{ what: 'EICAR made executable', run: `${DIR}/eicar.com`, file: `${DIR}/eicar.com`, allow: false, signature: SIGNATURES.eicar },
			{ what: 'a symlink to the marker', run: `${DIR}/harmless-looking`, file: `${DIR}/marker`, allow: false, signature: SIGNATURES.markerHash },
		];
		if (show) process.stdout.write('\n  4.6 end to end: exec -> verdict\n');
		for (const c of cases) {
			const seen = decisionsIn(relay.output()).length;
			const r = await guest.run(c.run);
			if (c.allow) {
				expect(r.stdout, `${c.what} (${c.run}) should run: ${r.output}`).toBe('hello-exec ran\n');
			} else {
				expect({ status: r.status, stderr: r.stderr }, `${c.what} (${c.run}) must be refused with EPERM, which the shell reports as 126`).toMatchObject({
					status: 126,
					stderr: expect.stringMatching(/Operation not permitted/),
				});
			}
			// the relay's decision, and the module's line for the same query
			const decision: RelayDecision | undefined = decisionsIn(relay.output())
				.slice(seen)
				.find((d) => d.path === JSON.stringify(c.file));
			expect(decision, `the relay should log its decision about ${c.file}:\n${relay.output().slice(-2000)}`).toMatchObject({
				answer: c.allow ? 'allow' : 'deny',
				verdict: c.allow ? 'clean' : 'found',
				...(c.signature ? { signature: c.signature } : {}),
			});
			const kernel = new RegExp(`^${c.allow ? 'allow' : 'deny'} ${c.file}: the relay ${c.allow ? 'allows' : 'denies'} \\(query ${decision?.serial}, (\\d+) ms\\)$`, 'm').exec(await moduleLog(guest));
			expect(kernel, `dmesg should show the module's ${c.allow ? 'allow' : 'deny'} for query ${decision?.serial} (${c.file})`).not.toBeNull();
			if (show) {
				const verdict = decision?.signature ? `${decision.verdict} ${decision.signature}` : decision?.verdict;
				process.stdout.write(`  ${c.run.padEnd(28)} -> ${decision?.answer.padEnd(5)} ${verdict}${decision?.cached ? ' (cached)' : ''}; relay ${decision?.ms} ms, exec waited ${kernel?.[1]} ms\n`);
			}
		}

		// stop the relay: fail_closed=1 denies what nobody can judge, the clean program too.
		// Under that policy no new command could start, so one started now waits on a FIFO, then
		// tries both programs and puts the policy back with shell builtins only.
		const after = guest.spawn(
			`echo waiting; read go < ${DIR}/go; ${DIR}/clean; echo "clean=$?"; ${DIR}/marker; echo "marker=$?"; ` +
				`echo 0 > ${PARAMS}/fail_closed; ${DIR}/clean; echo "fail-open clean=$?"`,
		);
		// the shell must have been allowed to start while the relay still answered
		await guest.waitUntil('the waiting shell to start', async () => (after.output().startsWith('waiting\n') ? true : undefined));
		relay.kill(15);
		expect((await relay.result).status, 'the relay stops cleanly on SIGTERM').toBe(0);
		await guest.put(`${DIR}/go`, 'go\n');
		const out = (await after.result).stdout;
		expect(out, 'without the relay and with fail_closed=1, even the clean program is refused').toContain('clean=126');
		expect(out).toContain('marker=126');
		expect(out, 'with fail_closed=0 and no relay, programs run again').toContain('hello-exec ran\nfail-open clean=0');
		const log = await moduleLog(guest);
		expect(log).toMatch(new RegExp(`^deny ${DIR}/clean: no relay, fail-closed`, 'm'));
		expect(log).toMatch(new RegExp(`^allow ${DIR}/clean: no relay, fail-open`, 'm'));
		if (show) process.stdout.write(`  relay stopped, fail_closed=1: clean and marker refused (126); fail_closed=0: clean runs\n`);

		expect((await guest.rmmod(MODULE)).status, 'the module unloads at the end').toBe(0);
		await clamd.stop();
		expect(guest).not.toHaveKernelEvent('oops');
		expect(guest).not.toHaveKernelEvent('warning');
	},
);
