import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';
import { HELLO_STDIO, expectNoWarnings, leadingCString } from './support.js';

/** One step of an ltrace -S listing that prints: a library call, or the write system call. */
interface Step {
	what: string;
	text: string;
}

/** The stdio calls and the write calls (library and system) on fd 1, in the order ltrace listed them. */
function printingSteps(listing: string): Step[] {
	const steps: Step[] = [];
	for (const line of listing.split('\n')) {
		const m = /^(?:(SYS_write|write)\(1, |(printf|puts|fputs|fprintf|fwrite|putchar)\()(.*)$/.exec(line);
		if (!m) continue;
		const args = m[3];
		steps.push({ what: m[1] ?? m[2], text: leadingCString(args) ?? args });
	}
	return steps;
}

lesson(
	{
		id: '1.1b',
		title: { en: 'ltrace shows the library calls, and when each one makes a system call', ja: 'ltrace でライブラリ関数呼び出しと、それがいつシステムコールになるかを見る' },
		hint: {
			en: 'userspace/hello-stdio/hello-stdio.c (the program of 1.1b): printf, fwrite and write must be real calls into the C library, which "ltrace -S" lists with the system calls. gcc turns printf("...\\n") into puts("..."), so printf may show as puts. On a pipe neither printf nor fwrite makes a system call; write does at once; the buffered text goes out in one SYS_write at exit. ltrace needs a dynamically linked program: the spec builds it so.',
			ja: 'userspace/hello-stdio/hello-stdio.c（1.1b のプログラム）: printf、fwrite、write は C ライブラリの本物の呼び出しである必要があります。"ltrace -S" はそれらをシステムコールと一緒に表示します。gcc は printf("...\\n") を puts("...") に変えるので、printf は puts と表示されることがあります。パイプへは printf も fwrite もシステムコールを呼ばず、write はすぐに呼び、溜まった文字列は終了時に 1 回の SYS_write で出ます。ltrace は動的リンクのプログラムにしか使えないので、この spec は動的リンクでビルドします。',
		},
		files: ['userspace/hello-stdio/hello-stdio.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true }); // ltrace and the shared C library are the host's
		const program = await guest.prepareProgram('hello-stdio'); // dynamic: ltrace cannot trace a static program
		expectNoWarnings(program.build, 'hello-stdio');

		// the command's stdout is a pipe to the guest agent
		const r = await guest.run(`ltrace -S -s 4096 -o /tmp/ltrace.out ${program.path}`);
		expect(r.status, `ltrace failed: ${r.output}`).toBe(0);
		const listing = (await guest.run('cat /tmp/ltrace.out')).stdout;
		// Each way of printing is a call into the library (printf may show as puts: its format
		// is not checked, the text it printed is, in the last write). stdout is a pipe, so printf
		// and fwrite only fill stdio's buffer; write goes straight to the kernel; the buffer goes
		// out in one system call at exit.
		const steps = printingSteps(listing).map((s) => (s.what === 'printf' || s.what === 'puts' ? 'printf or puts' : `${s.what} ${JSON.stringify(s.text)}`));
		expect(steps, `the printing library calls and write system calls, in order; ltrace -S listed:\n${listing}`).toEqual([
			'printf or puts',
			`fwrite ${JSON.stringify(HELLO_STDIO.fwrite)}`,
			`write ${JSON.stringify(HELLO_STDIO.write)}`,
			`SYS_write ${JSON.stringify(HELLO_STDIO.write)}`,
			`SYS_write ${JSON.stringify(HELLO_STDIO.printf + HELLO_STDIO.fwrite)}`,
		]);
		expect(listing, 'the buffered write should come just before the program exits').toMatch(/^SYS_write\(1, "printf: .*\n(?:<\.\.\. .* resumed>.*\n)*SYS_exit_group\(/m);
	},
);
