// What a student reads: the table of each chapter, the next lesson with its hint and where its
// TODOs are, and for each failure what was expected, what happened and the console that shows
// it. Pure functions of the results, in the student's language.
import { styleText } from 'node:util';
import { type Language, chapterTitle, texts } from './i18n.js';
import type { LessonMeta } from './lesson-meta.js';
import { type CheckResult, type EarlierRuns, type LessonResult, nextLesson } from './results.js';
import type { StarterTodo } from './workspace.js';

type Style = Parameters<typeof styleText>[0];

export interface TextOptions {
	language: Language;
	/** ANSI colours (a terminal without NO_COLOR). */
	color: boolean;
}

export const colorWanted = (stream: NodeJS.WriteStream = process.stdout) => Boolean(stream.isTTY) && !process.env.NO_COLOR;

export function painter(color: boolean) {
	return (style: Style, s: string) => (color ? styleText(style, s) : s);
}

const MARK: Record<LessonResult['status'], [string, Style]> = {
	done: ['✓', 'green'],
	failed: ['✗', 'red'],
	blocked: ['⊘', 'yellow'],
	'not-run': ['·', 'gray'],
};

const TITLE_WIDTH = 64;
const indent = (s: string, prefix: string) => s.replace(/^/gm, prefix);

/** East Asian Wide and Fullwidth code points: a terminal gives each of them two columns. */
const WIDE: ReadonlyArray<readonly [number, number]> = [
	[0x1100, 0x115f], [0x2e80, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f],
	[0xff00, 0xff60], [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];
const COMBINING = /^[\p{Mn}\p{Me}]$/u;

/** Terminal columns of one character: combining marks sit on the one before, CJK takes two. */
function charWidth(ch: string): number {
	if (COMBINING.test(ch)) return 0;
	const cp = ch.codePointAt(0)!;
	return WIDE.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1;
}

/** Terminal columns of a string: what padEnd and length get wrong for Japanese titles. */
export function displayWidth(s: string): number {
	let n = 0;
	for (const ch of s) n += charWidth(ch);
	return n;
}

/** `s` cut to `width` columns (ending in "…" when cut) and padded to exactly that, so columns after it line up. */
export function fitColumns(s: string, width: number): string {
	if (displayWidth(s) > width) {
		let kept = '';
		let used = 0;
		for (const ch of s) {
			if (used + charWidth(ch) > width - 1) break;
			kept += ch;
			used += charWidth(ch);
		}
		s = `${kept}…`;
	}
	return s + ' '.repeat(width - displayWidth(s));
}

/** The notes after a row's points: why it waits or did not run, and whether the status is remembered. */
function rowNote(l: LessonResult, t: ReturnType<typeof texts>): string {
	const notes = [
		...(l.status === 'blocked' ? [t.blockedBy(l.blockedBy.join(', '))] : []),
		...(l.status === 'not-run' ? [t.notRun] : []),
		...(l.earlier ? [t.earlierRun] : []),
	];
	return notes.length ? ` (${notes.join(t.noteSeparator)})` : '';
}

/** One table per chapter, then the total. */
export function progressTables(lessons: LessonResult[], o: TextOptions): string {
	const t = texts(o.language);
	const paint = painter(o.color);
	const out: string[] = [];
	const chapters = [...new Set(lessons.map((l) => l.chapter))];
	const sum = (ls: LessonResult[]) => ({
		done: ls.filter((l) => l.status === 'done').length,
		earned: ls.reduce((n, l) => n + l.earned, 0),
		points: ls.reduce((n, l) => n + l.points, 0),
	});
	for (const chapter of chapters) {
		const ls = lessons.filter((l) => l.chapter === chapter);
		const s = sum(ls);
		out.push(paint('bold', `${t.chapter(chapter, chapterTitle(chapter, o.language))}   ${t.lessonsDone(s.done, ls.length)}   ${t.points(s.earned, s.points)}`));
		for (const l of ls) {
			const [mark, style] = MARK[l.status];
			const title = fitColumns(l.title[o.language], TITLE_WIDTH);
			out.push(`  ${paint(style, mark)} ${l.id.padEnd(5)} ${title} ${`${l.earned}/${l.points}`.padStart(5)}${rowNote(l, t)}`);
		}
		out.push('');
	}
	const s = sum(lessons);
	out.push(paint('bold', `${t.total}: ${t.lessonsDone(s.done, lessons.length)}, ${t.points(s.earned, s.points)}`));
	return out.join('\n');
}

/** The hints of a lesson: its own (one per distinct check hint) and where its TODOs are. */
export function lessonHint(checks: LessonMeta[], todos: StarterTodo[], o: TextOptions): string {
	const t = texts(o.language);
	const hints = [...new Set(checks.map((m) => m.hint[o.language]))];
	const files = [...new Set(checks.flatMap((m) => m.files))];
	const lesson = checks[0].id;
	const own = todos.filter((todo) => todo.lesson === lesson);
	return [
		...hints.map((h) => `${t.hint}: ${h}`),
		`${t.files}: ${files.join(', ')}`,
		...own.map((todo) => `  ${todo.file}${todo.whole || todo.line === undefined ? '' : `:${todo.line}`}  TODO(${todo.lesson}): ${todo.hint}`),
	].join('\n');
}

/**
 * For a lesson asked for by number (npm run hint -- 4.2, watch mode): the lessons it requires that
 * did not pass in the last run that reached them (results/progress.json), in one line to read first;
 * undefined when there are none, or no run has reached them yet.
 */
export function requiresNotice(checks: LessonMeta[], earlier: EarlierRuns | undefined, o: TextOptions): string | undefined {
	const unmet = [...new Set(checks.flatMap((m) => m.requires))].filter((r) => {
		const status = earlier?.lessons[r];
		return status !== undefined && status !== 'done' && status !== 'not-run';
	});
	if (!unmet.length || !checks.length) return undefined;
	return painter(o.color)('yellow', texts(o.language).needsFirst(checks[0].id, unmet.join(', '), unmet.length > 1));
}

/**
 * vitest's -t pattern that selects one lesson's tests: their names are "<id> <title>", so the id is
 * anchored, its dots escaped and a space follows ("-t 1.1" alone also runs 1.1b).
 */
export function lessonTestPattern(id: string): string {
	return `^${id.replace(/\./g, '\\.')} `;
}

/** The commands that run one lesson alone: watch mode, or one vitest run. */
export function rerunCommands(id: string, language: Language): string {
	return texts(language).rerun(id, lessonTestPattern(id));
}

/**
 * What failed in one check: the assertion's expected and actual, or the message, then the console,
 * then the check's hint unless `withHint` is false (a caller that prints the lesson's hints once).
 */
export function failureDetails(check: CheckResult, o: TextOptions, withHint = true): string {
	const t = texts(o.language);
	const paint = painter(o.color);
	const f = check.failure;
	const out = [paint('red', `✗ ${check.meta.id} ${check.meta.title[o.language]}`) + paint('gray', `  (${check.spec})`)];
	if (!f) {
		out.push(indent(check.error ?? '', '  '));
		return out.join('\n');
	}
	if (f.kind === 'harness') out.push(paint('yellow', `  ${t.failedOutsideLesson}`));
	const message = f.expected !== undefined ? withoutAssertionSentence(f.message) : f.message.trim();
	if (message) out.push(indent(message, '  '));
	if (f.expected !== undefined) {
		out.push(indent(`${t.expected}: ${f.expected}`, '  '), indent(`${t.got}: ${f.actual ?? 'undefined'}`, '  '));
	}
	for (const c of f.consoles) out.push(`  ${t.consoleOf(c.guest, c.events)}:`, indent(c.excerpt, '    | '));
	if (f.logs.length) out.push(`  ${t.fullLog}: ${f.logs.join(', ')}`);
	if (withHint) out.push(`  ${t.hint}: ${check.meta.hint[o.language]}`);
	return out.join('\n');
}

/** How the assertion library's sentence begins (chai's wording). */
const ASSERTION_SENTENCE = /^expected .+ (?:not )?to (?:be|equal|deeply equal|strictly equal|include|contain|match|have|satisfy|throw)\b/;

/**
 * The message without the sentence the assertion library appends to it ("…: expected '' to be
 * 'Hello world.\n' // Object.is equality"): the Expected and Got lines that follow say the same, in
 * the student's language.
 */
export function withoutAssertionSentence(message: string): string {
	const lines = message.trim().split('\n');
	const last = lines.at(-1) ?? '';
	// where the sentence starts: the whole line, or after the last ": "
	const after = last.lastIndexOf(': expected ');
	const at = last.startsWith('expected ') ? 0 : after >= 0 ? after + 2 : -1;
	if (at < 0 || !ASSERTION_SENTENCE.test(last.slice(at))) return message.trim();
	lines[lines.length - 1] = last.slice(0, at).replace(/:\s*$/, '');
	return lines.join('\n').trim();
}

/** A failure in one line: the check and the first line of what failed, cut to fit a terminal. */
export function failureLine(check: CheckResult, o: TextOptions): string {
	const f = check.failure;
	const message = f ? (f.expected !== undefined && withoutAssertionSentence(f.message)) || f.message : (check.error ?? '');
	const first = message.trim().split('\n')[0] ?? '';
	const line = `✗ ${check.meta.id} ${check.meta.title[o.language]}: ${first}`;
	return painter(o.color)('red', displayWidth(line) > BRIEF_WIDTH ? fitColumns(line, BRIEF_WIDTH).trimEnd() : line);
}

const BRIEF_WIDTH = 160;

/** Up to this many failed lessons in a run, each failure comes with its evidence. */
const FULL_FAILURES_UP_TO = 3;

/**
 * The whole progress report: failures (not those of blocked lessons), tables, the next lesson.
 * When this run failed more than FULL_FAILURES_UP_TO lessons (the starters fail all of them),
 * only the next lesson's failures come with their evidence and the others get a line each: their
 * evidence filled hundreds of lines above the tables. A run of one lesson (-t, watch) shows it.
 */
export function progressReport(lessons: LessonResult[], todos: StarterTodo[], o: TextOptions): string {
	const t = texts(o.language);
	const paint = painter(o.color);
	const out: string[] = [];
	const next = nextLesson(lessons);
	const failedChecks = (ls: LessonResult[]) => ls.flatMap((l) => l.checks.filter((c) => c.state === 'failed'));
	// failed in this run: a lesson remembered from an earlier run has no checks that failed now
	const failed = lessons.filter((l) => l.status === 'failed' && l.checks.some((c) => c.state === 'failed'));
	const full = (l: LessonResult) => failed.length <= FULL_FAILURES_UP_TO || l.id === next?.id;
	const inFull = failedChecks(failed.filter(full));
	const brief = failedChecks(failed.filter((l) => !full(l)));
	if (inFull.length || brief.length) {
		out.push(paint('bold', t.failures), '');
		for (const c of inFull) out.push(failureDetails(c, o), '');
		if (brief.length) out.push(t.otherFailures, ...brief.map((c) => `  ${failureLine(c, o)}`), '');
	}
	out.push(progressTables(lessons, o), '');
	if (next) {
		out.push(paint('bold', `${t.next}: ${next.id} ${next.title[o.language]}`), `  ${rerunCommands(next.id, o.language)}`);
		const pending = next.checks.filter((c) => c.state !== 'passed').map((c) => c.meta);
		out.push(indent(lessonHint(pending, todos, o), '  '));
	} else if (lessons.length) out.push(paint('green', t.allDone));
	return out.join('\n');
}

const RULE_WIDTH = 80;

/**
 * Watch mode: the rule before a rerun's output, with the local time and the file whose change
 * triggered it, so one run's report is told from the one before.
 */
export function rerunRule(at: Date, file: string | undefined, o: TextOptions): string {
	const time = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
	const head = `──── ${texts(o.language).rerunAt(time, file)} `;
	return painter(o.color)('gray', head + '─'.repeat(Math.max(4, RULE_WIDTH - displayWidth(head))));
}

/** The one line of a run that broke before any lesson: where to look, and that nothing was checked. */
export function runFailedNotice(o: TextOptions): string {
	return painter(o.color)('yellow', texts(o.language).runFailed);
}
