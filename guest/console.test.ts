// The console classifier on real consoles captured from the guest (fixtures/console/).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { classifyConsole, cleanConsoleLine, consoleExcerpt } from './console.js';
import { repoRoot } from './paths.js';

const log = (name: string) => readFileSync(path.join(repoRoot, 'fixtures', 'console', name), 'latin1');
const kinds = (text: string) => classifyConsole(text).map((e) => e.kind);

describe('console lines', () => {
	test('lose their timestamp, carriage return and colour escapes', () => {
		expect(cleanConsoleLine('[   12.345678] \x1b[1;31mOops: 0002 [#1]\x1b[0m\r')).toBe('Oops: 0002 [#1]');
	});
});

describe('user-space faults (chapter 1)', () => {
	const events = classifyConsole(log('user-segfault-trap-oom.log'));

	test('a NULL dereference is a segfault line naming the program', () => {
		expect(events).toContainEqual(expect.objectContaining({ kind: 'segfault', task: 'crashy', address: '0' }));
	});

	test('a division by zero is a trap line', () => {
		expect(events).toContainEqual(expect.objectContaining({ kind: 'trap', task: 'crashy', trap: 'divide error' }));
	});

	test('the OOM killer names its victim, and none of this is an oops or a panic', () => {
		expect(events.filter((e) => e.kind === 'oom-kill')).toEqual([expect.objectContaining({ victim: 'crashy' })]);
		expect(kinds(log('user-segfault-trap-oom.log'))).not.toContain('oops');
		expect(kinds(log('user-segfault-trap-oom.log'))).not.toContain('panic');
	});
});

describe('panics', () => {
	test('the reason is taken from the "Kernel panic - not syncing" line, once', () => {
		const panics = classifyConsole(log('sysrq-panic.log')).filter((e) => e.kind === 'panic');
		expect(panics).toEqual([expect.objectContaining({ reason: 'sysrq triggered crash' })]);
	});

	test('the excerpt starts just before the first event, clean of timestamps', () => {
		const lines = consoleExcerpt(log('sysrq-panic.log')).split('\n');
		expect(lines.slice(0, 2)).toEqual(['sysrq: Trigger a crash', 'Kernel panic - not syncing: sysrq triggered crash']);
	});
});

describe('kernel crashes (chapter 2)', () => {
	const cases: [file: string, expected: object[]][] = [
		['null-deref-oops.log', [{ kind: 'oops', title: 'BUG: kernel NULL pointer dereference', function: 'nullderef_init', module: 'nullderef' }]],
		[
			'null-deref-panic.log',
			[
				{ kind: 'oops', title: 'BUG: kernel NULL pointer dereference', function: 'nullderef_init', module: 'nullderef' },
				{ kind: 'panic', reason: 'Fatal exception' },
			],
		],
		['divide-error-oops.log', [{ kind: 'oops', title: 'divide error', function: 'divzero_init', module: 'divzero' }]],
		[
			'divide-error-panic.log',
			[
				{ kind: 'oops', title: 'divide error', function: 'divzero_init', module: 'divzero' },
				{ kind: 'panic', reason: 'Fatal exception' },
			],
		],
		[
			'stack-guard-page-panic.log',
			[
				{ kind: 'oops', title: 'BUG: TASK stack guard page was hit', function: 'array_16k', module: 'bigstack' },
				{ kind: 'panic', reason: 'Fatal exception in interrupt' },
			],
		],
		['stack-64k-page-fault-oops.log', [{ kind: 'oops', title: 'BUG: unable to handle page fault', function: 'array_64k', module: 'bigstack' }]],
		['soft-lockup.log', [{ kind: 'soft-lockup', task: 'insmod' }]],
		['hung-task.log', [{ kind: 'hung-task', task: 'insmod' }]],
		['kmalloc-8mb-warning.log', [{ kind: 'warning', location: 'mm/page_alloc.c:5634', function: '__alloc_pages' }]],
		[
			'kernel-leak-oom-panic.log',
			[
				{ kind: 'oom-kill', victim: 'innocent' },
				{ kind: 'oom-kill', victim: 'innocent' },
				{ kind: 'oom-kill', victim: 'innocent' },
				{ kind: 'panic', reason: 'System is deadlocked on memory' },
			],
		],
	];

	test.each(cases)('%s gives exactly the expected events, in order', (file, expected) => {
		const events = classifyConsole(log(file));
		expect(events).toEqual(expected.map((e) => expect.objectContaining(e)));
	});

	test('an oops followed by its "Oops:" line is one event, not two', () => {
		const events = classifyConsole(log('stack-64k-page-fault-oops.log')).filter((e) => e.kind === 'oops');
		expect(events).toHaveLength(1);
	});
});
