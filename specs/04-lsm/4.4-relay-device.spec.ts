// Lesson 4.4: /dev/execgate, the channel between the exec hook and one relay in user space.
// The relay here is the specs' own devrelay (fixtures/lsm/devrelay): it prints every query line
// as read, so these specs check the device protocol itself.
import { expect } from 'vitest';
import type { LabGuest } from '../../guest/lab-guest.js';
import { lesson } from '../../guest/lesson.js';
import { DEVICE, MODULE, PARAMS, loadExecgate, moduleFile, moduleLog, prepareFixture, queriesFor, queriesIn, startDevrelay, waitForOutput } from './support.js';

const DIR = '/tmp/lab';
const files = [moduleFile('channel.c')];

const hint = {
	en: 'kernel/execgate/channel.c: relay_open() refuses without capable(CAP_SYS_ADMIN) (-EPERM) and while a relay is registered (-EBUSY), else keeps get_pid(task_tgid(current)) and the file; unregister_relay_locked() puts and forgets both, clears relay_leaving and settles every waiting query as OUTCOME_RELAY_GONE; ask_relay() queues the query with the next serial only while a relay is registered, wakes relay_wait and waits with wait_for_completion_killable_timeout(), then takes the query off the list itself if nobody settled it (timeout or fatal signal); format_query() writes "Q <serial> <pid_vnr> <fd> <path as bin2hex() or ->\\n"; parse_answer() accepts exactly "A <serial> allow|deny", the serial in digits only with no leading zero, as kstrtou64() alone also takes "+5" (else -EINVAL) and settle() finds the sent query (else -ENOENT); in_relay_tree() walks real_parent up from current comparing task_tgid() with the relay.',
	ja: 'kernel/execgate/channel.c: relay_open() は capable(CAP_SYS_ADMIN) でなければ -EPERM、すでにリレーが登録されていれば -EBUSY、それ以外は get_pid(task_tgid(current)) とその file を覚えます。unregister_relay_locked() はその両方を手放して忘れ、relay_leaving を戻し、待っている問い合わせをすべて OUTCOME_RELAY_GONE で決着させます。ask_relay() はリレーがいるときだけ次の通し番号で問い合わせを並べ、relay_wait を起こし、wait_for_completion_killable_timeout() で待ち、誰も決着させなかったら（タイムアウトか致命的シグナル）自分でリストから外します。format_query() は "Q <通し番号> <pid_vnr> <fd> <bin2hex() したパスか ->\\n" を書き、parse_answer() は "A <通し番号> allow|deny" だけを受け付け（通し番号は数字だけで先頭に 0 を付けない形。kstrtou64() だけでは "+5" も通ります。それ以外は -EINVAL）、settle() は送信済みの問い合わせを探します（なければ -ENOENT）。in_relay_tree() は current から real_parent をたどって task_tgid() をリレーと比べます。',
};

/** Upload the relay and the programs to run: clean, deny-me (hello-exec copies). */
async function prepare(guest: LabGuest): Promise<string> {
	const relay = await prepareFixture(guest, 'devrelay');
	for (const name of ['clean', 'deny-me', 'other']) await prepareFixture(guest, 'hello-exec', `${DIR}/${name}`);
	return relay;
}

lesson(
	{
		id: '4.4',
		title: {
			en: 'Ask user space, the device: root only, one relay (EBUSY), one query per read with the path in hex, allow and deny answers, EINVAL and ENOENT for bad ones',
			ja: 'ユーザ空間に尋ねる（デバイス）: root のみ、リレーは一つ（EBUSY）、read 一回で問い合わせ一件（パスは 16 進）、allow と deny の返事、不正な返事には EINVAL と ENOENT',
		},
		hint,
		files,
		requires: ['4.3'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await loadExecgate(guest, 'timeout_ms=20000');
		const relayPath = await prepare(guest);

		// root only: even with the file mode opened up, the module itself refuses other users
		await guest.run(`chmod 666 ${DEVICE}`);
		const asUser = await guest.run(`${relayPath} probe`, { uid: 1000 });
		expect(asUser.stdout, `a process without CAP_SYS_ADMIN must not become the relay, even when ${DEVICE} is mode 0666`).toContain('open failed: EPERM');
		await guest.run(`chmod 600 ${DEVICE}`);

		const relay = await startDevrelay(guest, relayPath, '--deny deny-me');
		const second = await guest.run(`${relayPath} probe`);
		expect(second.stdout, 'a second relay gets EBUSY while the first has the device open').toContain('open failed: EBUSY');

		// allow: the program runs, and the query names the exec-ing process and the file
		const clean = await guest.run(`sh -c 'echo pid=$$; exec ${DIR}/clean'`);
		expect(clean.stdout, `the relay allowed ${DIR}/clean: it should run`).toMatch(/^pid=\d+\nhello-exec ran\n$/);
		const pid = Number(/pid=(\d+)/.exec(clean.stdout)?.[1]);
		const asked = queriesFor(relay.output(), `${DIR}/clean`);
		expect(asked.length, `one query for ${DIR}/clean; the relay read:\n${relay.output()}`).toBe(1);
		expect(asked[0].pid, 'the query carries the pid of the exec-ing process').toBe(pid);
		expect(asked[0].fd, 'without pass_fd the descriptor field is -1').toBe(-1);
		const serials = queriesIn(relay.output()).map((q) => q.serial);
		expect(new Set(serials).size, 'serials are unique').toBe(serials.length);

		// deny: EPERM, which the shell reports as 126 "Operation not permitted"
		const denied = await guest.run(`${DIR}/deny-me; echo "rc=$?"`);
		expect(denied.stdout, 'the relay denied the exec: the program must not run').not.toContain('hello-exec ran');
		expect(denied.stdout).toContain('rc=126');
		expect(denied.stderr).toMatch(/Operation not permitted/);
		expect(await moduleLog(guest)).toMatch(new RegExp(`^deny ${DIR}/deny-me: the relay denies \\(query \\d+, \\d+ ms\\)$`, 'm'));

		// hard names reach the relay byte for byte: spaces, a newline, a byte that is not UTF-8, ~4000 bytes
		const odd = Buffer.concat([Buffer.from(`${DIR}/odd name\n`), Buffer.from([0xff, 0x80]), Buffer.from('.bin')]);
		const long = `${DIR}/long/${Array.from({ length: 15 }, (_, i) => `${i}`.padEnd(250, 'x')).join('/')}/prog`;
		const hard = await guest.run(
			`cp ${DIR}/clean "$(printf '${DIR}/odd name\\n\\377\\200.bin')" && "$(printf '${DIR}/odd name\\n\\377\\200.bin')" && ` +
				`mkdir -p ${long.slice(0, long.lastIndexOf('/'))} && cp ${DIR}/clean ${long} && ${long}`,
		);
		expect(hard.stdout, hard.output).toBe('hello-exec ran\nhello-exec ran\n');
		expect(queriesFor(relay.output(), odd).length, `the path with a space, a newline and the bytes ff 80 should arrive intact; the relay read:\n${relay.output().slice(-3000)}`).toBe(1);
		expect(queriesFor(relay.output(), long).length, `a path of ${long.length} bytes should arrive intact`).toBe(1);

		// bad answers: EINVAL for malformed, ENOENT for a serial that waits for nothing
		relay.kill(9);
		await relay.result.catch(() => {});
		const answers = guest.spawn(`exec ${relayPath} answers`);
		await waitForOutput(guest, 'the answers relay to open the device', () => answers.output(), /^ready$/m);
		// the first query it reads is the exec of the shell that will run this command
		const waiting = guest.spawn(`${DIR}/other`);
		const out = (await answers.result).stdout;
		expect(out, 'a read with a buffer too small for the line fails with EINVAL').toContain('small read EINVAL');
		const [query] = queriesIn(out);
		expect(query, `the query is still there after the small read:\n${out}`).toBeDefined();
		const results = [...out.matchAll(/^sent (.*)\nresult (\S+)$/gm)].map((m) => `${m[1]} -> ${m[2]}`);
		const serial = query.serial;
		expect(results, 'the answers and what write() said to each').toEqual([
			'garbage -> EINVAL',
			`A ${serial} maybe -> EINVAL`,
			`A${serial} allow -> EINVAL`,
			`A ${serial + 1000} allow -> ENOENT`,
			`A ${serial} allow -> ok`,
			`A ${serial} allow -> ENOENT`,
		]);
		expect((await waiting.result).stdout, 'the command whose shell the relay finally allowed runs').toBe('hello-exec ran\n');
		expect(guest).not.toHaveKernelEvent('oops');
	},
);

lesson(
	{
		id: '4.4',
		title: {
			en: 'Ask user space, the fail policy: no relay, a silent relay (timeout_ms) and a relay that dies each allow, or deny with fail_closed=1',
			ja: 'ユーザ空間に尋ねる（失敗時の方針）: リレーなし、黙るリレー（timeout_ms）、途中で死ぬリレーは、いずれも許可、fail_closed=1 なら拒否',
		},
		hint,
		files,
		requires: ['4.3'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const TIMEOUT = 1500;
		await loadExecgate(guest, `timeout_ms=${TIMEOUT}`);
		const relayPath = await prepare(guest);
		/** Run clean under fail_closed=v in one shell: with no relay its next exec would be denied. */
		const underPolicy = (v: 0 | 1, extra = '') =>
			guest.spawn(`echo ${v} > ${PARAMS}/fail_closed; ${extra}${DIR}/clean; echo "rc=$?"; echo 0 > ${PARAMS}/fail_closed`);

		// no relay
		expect((await underPolicy(0).result).stdout, 'no relay, fail-open: the program runs').toBe('hello-exec ran\nrc=0\n');
		expect((await underPolicy(1).result).stdout, 'no relay, fail_closed=1: denied (126)').toBe('rc=126\n');
		const log = await moduleLog(guest);
		expect(log).toMatch(new RegExp(`^allow ${DIR}/clean: no relay, fail-open`, 'm'));
		expect(log).toMatch(new RegExp(`^deny ${DIR}/clean: no relay, fail-closed`, 'm'));

		// a silent relay: the exec waits timeout_ms, then the policy decides
		let relay = await startDevrelay(guest, relayPath, `--silent ${DIR}/clean`);
		for (const [policy, expected] of [
			[0, 'hello-exec ran\nrc=0\n'],
			[1, 'rc=126\n'],
		] as const) {
			const r = await underPolicy(policy).result;
			expect(r.stdout, `silent relay, fail_closed=${policy}`).toBe(expected);
			expect(r.ms, `the exec should wait for the relay about timeout_ms=${TIMEOUT} ms`).toBeGreaterThan(TIMEOUT - 100);
		}
		const waited = new RegExp(`^deny ${DIR}/clean: the relay is silent, fail-closed \\(query \\d+, (\\d+) ms\\)$`, 'm').exec(await moduleLog(guest));
		expect(waited, 'the module logs the timeout and the fail-closed policy').not.toBeNull();
		expect(Number(waited?.[1]), 'the exec waited timeout_ms before the policy decided').toBeGreaterThanOrEqual(TIMEOUT - 20);

		// a relay that dies while an exec waits for it: the exec is released at once, by the policy
		await guest.run(`echo 60000 > ${PARAMS}/timeout_ms`);
		for (const [policy, expected] of [
			[0, 'hello-exec ran\nrc=0\n'],
			[1, 'rc=126\n'],
		] as const) {
			const before = queriesFor(relay.output(), `${DIR}/clean`).length;
			const waiting = underPolicy(policy);
			await guest.waitUntil('the relay to read the query', async () => (queriesFor(relay.output(), `${DIR}/clean`).length > before ? true : undefined));
			const killedAt = performance.now();
			await guest.run(`kill -9 ${relay.pidNumber}`);
			const r = await waiting.result;
			expect(r.stdout, `the relay died, fail_closed=${policy}`).toBe(expected);
			expect(performance.now() - killedAt, 'the waiting exec is released when the relay goes, not at timeout_ms').toBeLessThan(guest.ms(5000));
			relay = await startDevrelay(guest, relayPath, `--silent ${DIR}/clean`);
		}
		expect(await moduleLog(guest)).toMatch(new RegExp(`^deny ${DIR}/clean: the relay is gone, fail-closed`, 'm'));
		expect(guest).not.toHaveKernelEvent('oops');
	},
);

lesson(
	{
		id: '4.4',
		title: {
			en: 'Ask user space, safety: the waiting task is killable (SIGKILL ends it), the relay and its descendants are never asked, rmmod is refused while the relay holds the device and succeeds once it is gone',
			ja: 'ユーザ空間に尋ねる（安全性）: 待っているタスクは SIGKILL で終わる、リレー自身とその子孫には尋ねない、リレーがデバイスを開いている間は rmmod が拒まれ、リレーがいなくなれば外せる',
		},
		hint,
		files,
		requires: ['4.3'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		await loadExecgate(guest, 'timeout_ms=60000');
		const relayPath = await prepare(guest);
		// the relay runs this script in a child before each answer: the child execs the script, and
		// the script forks a grandchild that execs clean ("; true" keeps the shell from exec-ing it
		// in place, which would make clean the child again)
		await guest.run(`printf '#!/bin/sh\\n${DIR}/clean; true\\n' > ${DIR}/nested.sh && chmod +x ${DIR}/nested.sh`);
		const relay = await startDevrelay(guest, relayPath, `--silent ${DIR}/deny-me --exec ${DIR}/nested.sh`);

		// no recursion: answering needs the child's exec, which must not be asked (else: a deadlock)
		const other = await guest.run(`${DIR}/other`, { timeoutMs: guest.ms(20_000) });
		expect(other.stdout, 'the relay answered while its own child ran a program').toBe('hello-exec ran\n');
		expect(relay.output(), 'the relay\'s child ran').toMatch(/^child 0$/m);
		expect(queriesFor(relay.output(), `${DIR}/nested.sh`), 'the relay\'s child must not be asked about').toEqual([]);
		expect(queriesFor(relay.output(), `${DIR}/clean`), 'nor its grandchild').toEqual([]);

		// a killable wait: the task sleeps in TASK_KILLABLE (shown as D) and SIGKILL ends it
		const stuck = guest.spawn(`exec ${DIR}/deny-me`);
		const pid = await stuck.pid;
		await guest.waitUntil('the relay to read the query', async () => (queriesFor(relay.output(), `${DIR}/deny-me`).length ? true : undefined));
		expect(await guest.waitForState(pid, 'D'), 'the exec waits for the answer in an uninterruptible but killable sleep').toBe('D');
		const killedAt = performance.now();
		stuck.kill(9);
		const killed = await stuck.result;
		expect(killed.status, 'SIGKILL ends the waiting task (128 + 9)').toBe(137);
		expect(performance.now() - killedAt, 'at once, not after timeout_ms').toBeLessThan(guest.ms(5000));
		expect(await moduleLog(guest)).toMatch(new RegExp(`^deny ${DIR}/deny-me: killed while waiting`, 'm'));

		// unload while queries wait: refused while the relay holds the device, safe once it is gone
		const pending = guest.spawn(`for i in 1 2 3 4 5; do ${DIR}/deny-me & done; wait; echo all-done`, { timeoutMs: guest.ms(60_000) });
		await guest.waitUntil('five queries to wait', async () => (queriesFor(relay.output(), `${DIR}/deny-me`).length >= 6 ? true : undefined));
		const busy = await guest.rmmod(MODULE);
		expect(busy.status, 'rmmod while the relay holds the device is refused').not.toBe(0);
		const unload = await guest.run(`kill -9 ${relay.pidNumber}; n=0; until rmmod ${MODULE} 2>/dev/null; do n=$((n+1)); [ $n -lt 1000 ] || exit 1; done; echo unloaded`);
		expect(unload.stdout, `rmmod after the relay died: ${unload.output}`).toBe('unloaded\n');
		const finished = await pending.result;
		expect(finished.stdout.match(/hello-exec ran/g)?.length, 'every waiting exec was released by the (fail-open) policy and ran').toBe(5);
		expect(finished.stdout).toContain('all-done');
		expect((await guest.run(`grep -c '^${MODULE} ' /proc/modules`)).stdout.trim(), 'the module is gone').toBe('0');
		expect((await guest.run(`${DIR}/deny-me`)).stdout, 'and execs no longer pass through it').toBe('hello-exec ran\n');
		expect(await moduleLog(guest)).toMatch(/^unloaded after \d+ execs, \d+ queries to the relay$/m);
		expect(guest).not.toHaveKernelEvent('oops');
		expect(guest).not.toHaveKernelEvent('warning');
	},
);
