import { expect } from 'vitest';
import { sleep } from '../../guest/guest.js';
import type { LabGuest } from '../../guest/lab-guest.js';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, startBystanders } from './support.js';

interface FileLocks {
	/** inode -> pid of the process holding its flock */
	holders: Map<number, number>;
	/** pid -> inode whose flock it is waiting for */
	waiting: Map<number, number>;
}

/** The flocks in /proc/locks: "1: FLOCK  ADVISORY  WRITE 101 00:02:320 0 EOF", waiters marked "->". */
async function fileLocks(guest: LabGuest): Promise<FileLocks & { text: string }> {
	const text = (await guest.run('cat /proc/locks')).stdout;
	const holders = new Map<number, number>();
	const waiting = new Map<number, number>();
	for (const m of text.matchAll(/^\d+: (-> )?FLOCK\s+ADVISORY\s+WRITE (\d+) [0-9a-f]+:[0-9a-f]+:(\d+) /gm)) {
		if (m[1]) waiting.set(Number(m[2]), Number(m[3]));
		else holders.set(Number(m[3]), Number(m[2]));
	}
	return { holders, waiting, text };
}

lesson(
	{
		id: '1.2b',
		title: { en: 'Two processes deadlocked on flock sleep until one is killed', ja: 'flock でデッドロックした 2 つのプロセスは、片方を殺すまで眠り続ける' },
		hint: {
			en: 'userspace/deadlock/deadlock.c: "deadlock A B" takes flock(LOCK_EX) on file A, sleeps one second so that the other process ("deadlock B A") can take B, then takes flock(LOCK_EX) on B. Both then sleep (state S) forever; SIGKILL to one releases its lock and the other finishes with status 0.',
			ja: 'userspace/deadlock/deadlock.c: "deadlock A B" はファイル A に flock(LOCK_EX) をかけ、もう一方のプロセス（"deadlock B A"）が B を取れるよう 1 秒待ってから、B に flock(LOCK_EX) をかけます。すると両方が永久に眠り（状態 S）、片方を SIGKILL するとそのロックが解放され、もう一方が終了ステータス 0 で終わります。',
		},
		files: ['userspace/deadlock/deadlock.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('deadlock', { static: true });
		expectNoWarnings(program.build, 'deadlock');
		const bystanders = await startBystanders(guest);
		const [a, b] = ['/tmp/lock-a', '/tmp/lock-b'];
		const made = await guest.run(`touch ${a} ${b} && stat -c %i ${a} ${b}`);
		const [inodeA, inodeB] = made.stdout.trim().split('\n').map(Number);

		const first = guest.spawn(`exec ${program.path} ${a} ${b}`);
		const second = guest.spawn(`exec ${program.path} ${b} ${a}`);
		const ended = new Map<string, number>();
		first.result.then((r) => ended.set('first', r.status), () => {});
		second.result.then((r) => ended.set('second', r.status), () => {});
		const [pidFirst, pidSecond] = [await first.pid, await second.pid];

		// deadlocked: each holds one file's lock and waits for the other's
		const locks = await guest.waitUntil('both processes to hold one lock and wait for the other, or one to end', async () => {
			if (ended.size) return null;
			const l = await fileLocks(guest);
			return l.waiting.size >= 2 ? l : undefined;
		}, 15_000);
		const endedEarly = [...ended].map(([which, status]) => `the ${which} process ended with ${describeStatus(status)}`).join(', ');
		if (locks === null) expect.fail(`both processes should block on each other's lock, but ${endedEarly}. Their output:\n${first.output()}${second.output()}`);
		const described = `/proc/locks:\n${locks.text}`;
		expect(locks.holders.get(inodeA), `"deadlock ${a} ${b}" (pid ${pidFirst}) should hold ${a}; ${described}`).toBe(pidFirst);
		expect(locks.holders.get(inodeB), `"deadlock ${b} ${a}" (pid ${pidSecond}) should hold ${b}; ${described}`).toBe(pidSecond);
		expect(locks.waiting.get(pidFirst), `pid ${pidFirst} should wait for ${b}; ${described}`).toBe(inodeB);
		expect(locks.waiting.get(pidSecond), `pid ${pidSecond} should wait for ${a}; ${described}`).toBe(inodeA);

		// the kernel does not break a flock deadlock: both stay asleep
		await sleep(guest.ms(1000));
		for (const pid of [pidFirst, pidSecond]) {
			const state = await guest.procState(pid);
			expect(state, `pid ${pid} should still be asleep (S) waiting for the lock, but its state is ${state ?? 'gone'}`).toBe('S');
		}
		expect(ended.size, 'neither process should end while deadlocked').toBe(0);

		const kill = await guest.run(`kill -9 ${pidFirst}`);
		expect(kill.status, `kill -9 failed: ${kill.output}`).toBe(0);
		const killed = await first.result;
		expect(killed.status, `the killed process should end by SIGKILL (137), but it ended with ${describeStatus(killed.status)}`).toBe(137);
		// its lock went with it: the other one gets it and finishes on its own
		const finished = await second.result;
		expect(finished.status, `the other process should take the freed lock and exit 0, but it ended with ${describeStatus(finished.status)}: ${finished.output}`).toBe(0);
		const after = await fileLocks(guest);
		expect(after.holders.size + after.waiting.size, `no flock should be left: ${after.text}`).toBe(0);

		await expectSystemFine(guest, bystanders);
	},
);
