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
