import { expect } from 'vitest';
import { lesson } from '../../guest/lesson.js';

lesson(
	{
		id: '1.1',
		title: { en: 'Hello world from a user-space C program', ja: 'ユーザ空間の C プログラムで Hello world.' },
		hint: {
			en: 'userspace/hello/hello.c: print exactly "Hello world." and a newline to standard output, and return 0 from main.',
			ja: 'userspace/hello/hello.c: 標準出力に "Hello world." と改行をそのまま出力し、main から 0 を返してください。',
		},
		files: ['userspace/hello/hello.c'],
	},
	async ({ vm }) => {
		const guest = await vm.guest();
		const program = await guest.prepareProgram('hello', { static: true });
		expect(program.build.warnings, 'gcc -Wall -Wextra should print no warnings').toEqual([]);
		const r = await guest.run(program.path);
		expect(r.stdout).toBe('Hello world.\n');
		expect(r.status).toBe(0);
	},
);
