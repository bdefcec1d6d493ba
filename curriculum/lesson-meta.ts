// What a lesson test carries in vitest's task meta, for the reporters: the lesson's metadata
// (set when the test is collected), and after a run the evidence of its failure or, on the
// starter track, the reason it failed on its starter. guest/lesson.ts writes it; the reporters
// under curriculum/reporters read it in the main process.

export interface Bilingual {
	en: string;
	ja: string;
}

export interface LessonMeta {
	/** "2.3": chapter 2, lesson 3 (curriculum/lesson-id.ts). */
	id: string;
	chapter: number;
	title: Bilingual;
	hint: Bilingual;
	/** The student files the lesson depends on, relative to the repository root. */
	files: string[];
	points: number;
	/** Lessons that must be done first: while one of them fails, this one is reported as blocked. */
	requires: string[];
}

/**
 * Why a lesson failed. The lesson's own reasons: an assertion, a build error (the compiler's
 * words), or the guest (it died, a command timed out, an awaited event never came). Anything
 * else (a TypeError in a spec, a harness error) is "harness": a defect of the course itself.
 */
export type FailureKind = 'assertion' | 'build' | 'guest' | 'harness';

export interface ConsoleEvidence {
	guest: number;
	/** The kernel events seen, in words ("oops in nullderef_init"), or "no kernel events". */
	events: string;
	excerpt: string;
}

export interface FailureEvidence {
	kind: FailureKind;
	/** The error's own message, without the evidence lesson.ts appends for the default reporter. */
	message: string;
	/** For assertions: what the lesson expected and what it got, as vitest prints them. */
	expected?: string;
	actual?: string;
	consoles: ConsoleEvidence[];
	/** The full console logs kept under results/, relative to the repository root. */
	logs: string[];
}

/** On the starter track: how the lesson failed on its starter (the test passes when it did). */
export interface StarterVerdict {
	kind: Exclude<FailureKind, 'harness'>;
	/** The first line of the failure. */
	message: string;
}

declare module 'vitest' {
	interface TaskMeta {
		lesson?: LessonMeta;
		failure?: FailureEvidence;
		starter?: StarterVerdict;
	}
}
