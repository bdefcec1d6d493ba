import { expect } from 'vitest';
import { CommandTimeout } from '../../guest/guest.js';
import { lesson } from '../../guest/lesson.js';
import { describeStatus, expectNoWarnings, expectSystemFine, printed, startBystanders } from './support.js';

lesson(
	{
		id: '1.7',
		title: { en: 'A memory leak ends with the OOM killer killing the leaker only', ja: 'メモリリークは OOM killer がリークしたプロセスだけを殺して終わる' },
		hint: {
			en: 'userspace/leak/leak.c: loop forever: malloc 1 MiB, write one byte in every 4096-byte page of it through a volatile pointer, and never free it. When the guest runs out of memory the kernel\'s OOM killer kills the biggest process, the leaker (status 137), and every other process lives on.',
			ja: 'userspace/leak/leak.c: 1 MiB を malloc し、volatile ポインタ経由で 4096 バイトのページごとに 1 バイトずつ書き込み、決して free しない、を無限に繰り返してください。ゲストのメモリが尽きるとカーネルの OOM killer が一番大きなプロセス、つまりリークしたプロセスを殺し（終了ステータス 137）、他のプロセスは生き続けます。',
		},
		files: ['userspace/leak/leak.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest(); // 256 MiB
		const program = await guest.prepareProgram('leak', { static: true });
		expectNoWarnings(program.build, 'leak');
		// started before the leak: a sleeper, and two programs holding real memory of their own
		const bystanders = await startBystanders(guest, [8, 16]);

		// filling 256 MiB takes about half a second under TCG; memory that is allocated but never
		// written is only promised, and uses up the guest far more slowly
		const leak = guest.spawn(`exec ${program.path}`, { timeoutMs: guest.ms(20_000) });
		const pid = await leak.pid;
		const { status, output } = await leak.result.catch((e: unknown) => {
			if (!(e instanceof CommandTimeout)) throw e;
			expect.fail(`leak was still running after ${guest.ms(20_000)} ms and the OOM killer never fired: does it keep allocating, and write to every page it gets?${printed(e.partialOutput)}`);
		});
		expect(status, `leak should be killed by the OOM killer with SIGKILL (137), but it ended with ${describeStatus(status)}${printed(output)}`).toBe(137);

		// the kernel names the leaker as its one and only victim
		const victim = await guest.waitForEvent('oom-kill', () => true, 10_000);
		expect(victim, 'the OOM killer should pick the leaker').toMatchObject({ victim: 'leak', pid });
		const kills = guest.events().filter((e) => e.kind === 'oom-kill');
		expect(kills, 'the OOM killer should kill only the leaker').toHaveLength(1);
		// it was chosen for its size: it held more memory than any bystander
		const anonRss = Number(/Killed process \d+ \(leak\) .*anon-rss:(\d+)kB/.exec(guest.console)?.[1]);
		const biggestBystander = Math.max(...bystanders.map((b) => b.rssKiB));
		expect(anonRss, `when killed, the leaker should hold more memory than the biggest bystander (${biggestBystander} KiB); its anon-rss in KiB`).toBeGreaterThan(biggestBystander);

		await expectSystemFine(guest, bystanders);
	},
);
