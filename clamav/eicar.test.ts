// EICAR is made at run time and never stored: no tracked file holds its text.
import { execFileSync } from 'node:child_process';
import { expect, test } from 'vitest';
import { repoRoot } from '../guest/paths.js';
import { EICAR_MD5, eicarBytes } from './eicar.js';

test('the bytes are the 68-byte EICAR test file', () => {
	const bytes = eicarBytes();
	expect(bytes.length).toBe(68);
	expect(bytes.subarray(0, 3).toString()).toBe('X5O');
	expect(EICAR_MD5).toMatch(/^[0-9a-f]{32}$/);
});

test('the repository holds no EICAR string', () => {
	// the distinctive middle of the file, also made at run time
	const needle = eicarBytes().subarray(20, 55).toString('latin1');
	let found = '';
	try {
		found = execFileSync('git', ['grep', '-l', '-F', '-e', needle], { cwd: repoRoot, encoding: 'utf8' });
	} catch (e) {
		// git grep exits 1 when nothing matches
		if ((e as { status?: number }).status !== 1) throw e;
	}
	expect(found).toBe('');
});
