import { expect } from 'vitest';
import type { LabGuest } from '../../guest/lab-guest.js';
import { lesson } from '../../guest/lesson.js';
import { HELLO_STDIO, expectNoWarnings, leadingCString } from './support.js';

interface Traced {
	/** What each write(1, ...) system call wrote, in order. */
	writes: string[];
	/** System calls other than write that wrote to fd 1 (writev, pwrite64, ...): there should be none. */
	otherWriters: string[];
	/** The system call right after the last write to fd 1. */
	afterLastWrite?: string;
	/** The trace for a failure message, each line cut at 160 characters (reads of ELF files are long). */
	text: string;
}

const cutLine = (l: string) => (l.length > 160 ? `${l.slice(0, 157)}...` : l);

/** Read an strace -o file: the system calls that wrote to standard output. */
async function readTrace(guest: LabGuest, file: string): Promise<Traced> {
	const text = (await guest.run(`cat ${file}`)).stdout;
	const calls = text.split('\n').filter((l) => /^\w+\(/.test(l));
	const writes: string[] = [];
	const otherWriters: string[] = [];
	let last = -1;
	calls.forEach((line, i) => {
		const m = /^(\w+)\(1, (.*)$/.exec(line);
		if (!m || !/write|send|splice/.test(m[1])) return;
		if (m[1] !== 'write') otherWriters.push(line);
		else writes.push(leadingCString(m[2]) ?? '');
		last = i;
	});
	return { writes, otherWriters, afterLastWrite: last >= 0 ? /^\w+/.exec(calls[last + 1] ?? '')?.[0] : undefined, text: text.split('\n').map(cutLine).join('\n') };
}

const buffered = [HELLO_STDIO.write, HELLO_STDIO.printf + HELLO_STDIO.fwrite];
const lineByLine = [HELLO_STDIO.printf, HELLO_STDIO.fwrite, HELLO_STDIO.write];

lesson(
	{
		id: '1.1b',
		title: { en: 'printf, fwrite and write all end in the write system call (strace)', ja: 'printf も fwrite も write も最後は write システムコール（strace）' },
		hint: {
			en: 'userspace/hello-stdio/hello-stdio.c: print "printf: Hello world.\\n" with printf, then "fwrite: Hello world.\\n" with fwrite to stdout, then "write: Hello world.\\n" with write(1, ...). strace shows every one of them as a write(1, ...) system call. On a terminal stdio writes each line at once; on a pipe or a file it keeps them in its buffer until exit, so the raw write comes out first.',
			ja: 'userspace/hello-stdio/hello-stdio.c: printf で "printf: Hello world.\\n"、fwrite で標準出力に "fwrite: Hello world.\\n"、write(1, ...) で "write: Hello world.\\n" をこの順に出力してください。strace で見ると、どれも write(1, ...) システムコールになります。端末なら stdio は 1 行ずつすぐに書きますが、パイプやファイルへはバッファに溜めて終了時にまとめて書くので、write の行が先に出ます。',
		},
		files: ['userspace/hello-stdio/hello-stdio.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest({ hostRoot: true }); // strace is the host's
		const program = await guest.prepareProgram('hello-stdio');
		expectNoWarnings(program.build, 'hello-stdio');
		const strace = (out: string) => `strace -s 4096 -o ${out} ${program.path}`;

		// stdout on a pipe: stdio holds the printf and fwrite text until exit
		const piped = await guest.run(`${strace('/tmp/pipe.trace')} | cat`);
		expect(piped.status, `strace failed: ${piped.output}`).toBe(0);
		const pipe = await readTrace(guest, '/tmp/pipe.trace');
		expect(pipe.otherWriters, 'only write(1, ...) should write to stdout').toEqual([]);
		expect(pipe.writes, `on a pipe: the raw write at once, then stdio's buffer in one write at exit; strace saw:\n${pipe.text}`).toEqual(buffered);
		expect(pipe.afterLastWrite, 'the buffered write should be the last thing before exit_group').toBe('exit_group');
		expect(piped.stdout, 'through a pipe, the raw write comes out first').toBe(buffered.join(''));

		// a file is buffered the same way
		const filed = await guest.run(`${strace('/tmp/file.trace')} > /tmp/file.out && cat /tmp/file.out`);
		const file = await readTrace(guest, '/tmp/file.trace');
		expect(file.writes, `to a file: the same as on a pipe; strace saw:\n${file.text}`).toEqual(buffered);
		expect(filed.stdout, 'in the file, the raw write comes first').toBe(buffered.join(''));

		// on a terminal (a pseudo-terminal from script), stdio writes each line as it is printed
		const tty = await guest.run(`script -qec "${strace('/tmp/tty.trace')}" /dev/null`);
		expect(tty.status, `script failed: ${tty.output}`).toBe(0);
		const terminal = await readTrace(guest, '/tmp/tty.trace');
		expect(terminal.writes, `on a terminal: one write per line, in program order; strace saw:\n${terminal.text}`).toEqual(lineByLine);
		expect(tty.stdout.replace(/\r\n/g, '\n'), 'on a terminal, the lines come out in program order').toBe(lineByLine.join(''));
	},
);
