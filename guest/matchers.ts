// Crash expectations for specs, on what the guest's console shows:
//   expect(guest).toHaveOopsed({ title: /NULL pointer/, function: 'lesson_init' })
//   expect(guest).toHavePanicked(/Fatal exception/)
//   expect(guest).toHaveKernelEvent('oom-kill', { victim: 'leak' })
//   expect(guest).not.toHaveKernelEvent('oops')
import { expect } from 'vitest';
import { type EventKind, type KernelEvent, consoleExcerpt, describeEvents } from './console.js';
import type { Guest } from './guest.js';

type Pattern = string | RegExp;
const fits = (value: unknown, want: unknown) =>
	want instanceof RegExp ? typeof value === 'string' && want.test(value) : value === want;
const show = (want: Record<string, unknown>) =>
	Object.entries(want)
		.map(([k, v]) => `${k} ${v instanceof RegExp ? v : JSON.stringify(v)}`)
		.join(', ');

function eventMatcher(guest: Guest, kind: EventKind, want: Record<string, unknown>, extra = '') {
	const events = guest.events();
	const found = events.find((e: KernelEvent) => e.kind === kind && Object.entries(want).every(([k, v]) => fits((e as Record<string, unknown>)[k], v)));
	const wanted = `a kernel "${kind}" event${Object.keys(want).length ? ` with ${show(want)}` : ''}${extra}`;
	return {
		pass: found !== undefined,
		message: () =>
			`expected ${wanted}${found ? ' not to be on the console' : ''}\n` +
			`saw: ${events.length ? describeEvents(events) : 'no kernel events'}\n--- console ---\n${consoleExcerpt(guest.console, events)}`,
	};
}

expect.extend({
	toHaveKernelEvent(guest: Guest, kind: EventKind, want: Record<string, unknown> = {}) {
		return eventMatcher(guest, kind, want);
	},
	toHaveOopsed(guest: Guest, want: { title?: Pattern; function?: Pattern; module?: Pattern } = {}) {
		return eventMatcher(guest, 'oops', want);
	},
	toHavePanicked(guest: Guest, reason?: Pattern) {
		const r = eventMatcher(guest, 'panic', reason ? { reason } : {}, ' and the guest gone');
		const pass = r.pass && guest.hasExited;
		return { pass, message: r.message };
	},
});

interface CrashMatchers<R = unknown> {
	toHaveKernelEvent(kind: EventKind, want?: Record<string, unknown>): R;
	toHaveOopsed(want?: { title?: Pattern; function?: Pattern; module?: Pattern }): R;
	toHavePanicked(reason?: Pattern): R;
}

declare module 'vitest' {
	// biome-ignore lint: the interface merges with vitest's own
	interface Matchers<T = any> extends CrashMatchers<T> {}
}
