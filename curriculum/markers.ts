// The student regions of a reference solution, and the starter made by removing them.
//
// Inline region, in any file that can carry comments (C, TypeScript, Kbuild, shell, config):
//
//     <indent>/* TODO(2.3) BEGIN: hint for the student */      or  // ...  or  # ...
//     ...solution lines...
//     <indent>/* TODO(2.3) END */
//
// The starter replaces the whole region, marker lines included, by one comment at the BEGIN
// line's indentation in the same comment style:  /* TODO(2.3): hint for the student */
//
// Whole-file exercise, for a file that cannot carry comments (a ClamAV .ndb signature file): a
// sidecar named after it with ".todo" appended (fixtures/signatures/marker.ndb.todo) whose first
// line declares the lesson and hint and whose remaining lines are the starter's whole content:
//
//     TODO(3.2): hint for the student
//     <starter content, possibly nothing>
//
// Any line that mentions "TODO(...) BEGIN" or "TODO(...) END" must be a well-formed marker, so a
// typo is an error instead of a region that silently stays in the starter.
import { LESSON_ID_SOURCE } from './lesson-id.js';

export const SIDECAR_SUFFIX = '.todo';

export interface Region {
	lesson: string;
	hint: string;
	/** 1-based line of the BEGIN marker (1 for a whole file). */
	begin: number;
	/** 1-based line of the END marker (the last line for a whole file). */
	end: number;
}

export class MarkerError extends Error {
	constructor(readonly problems: string[]) {
		super(`TODO markers are malformed:\n${problems.map((p) => `  ${p}`).join('\n')}`);
		this.name = 'MarkerError';
	}
}

const ID = LESSON_ID_SOURCE;
const BEGIN = new RegExp(String.raw`^(?<indent>[ \t]*)(?<open>/\*|//|#)[ \t]*TODO\((?<id>${ID})\)[ \t]+BEGIN:[ \t]*(?<hint>.*?)[ \t]*(?<close>\*/)?[ \t]*$`);
const END = new RegExp(String.raw`^[ \t]*(?<open>/\*|//|#)[ \t]*TODO\((?<id>${ID})\)[ \t]+END[ \t]*(?<close>\*/)?[ \t]*$`);
const LOOKS_LIKE_MARKER = /TODO\s*\([^)]*\)\s*(BEGIN|END)\b/i;
const SIDECAR_HEADER = new RegExp(String.raw`^TODO\((?<id>${ID})\):[ \t]*(?<hint>\S.*?)[ \t]*$`);

interface ParsedRegion extends Region {
	indent: string;
	open: string;
}

function closes(open: string, close: string | undefined): boolean {
	return open === '/*' ? close === '*/' : close === undefined;
}

function parse(lines: string[], file: string): ParsedRegion[] {
	const problems: string[] = [];
	const regions: ParsedRegion[] = [];
	let open: ParsedRegion | undefined;
	lines.forEach((raw, i) => {
		const line = raw.replace(/\r$/, '');
		const where = `${file}:${i + 1}`;
		const begin = BEGIN.exec(line)?.groups;
		const end = END.exec(line)?.groups;
		if (begin) {
			if (!closes(begin.open, begin.close)) problems.push(`${where}: a marker opened with "${begin.open}" must ${begin.open === '/*' ? 'end with "*/"' : 'not end with "*/"'}`);
			if (!begin.hint) problems.push(`${where}: TODO(${begin.id}) BEGIN needs a hint after the colon: it is what the student sees`);
			if (open) problems.push(`${where}: TODO(${begin.id}) BEGIN inside the region TODO(${open.lesson}) opened at line ${open.begin}: regions do not nest`);
			else open = { lesson: begin.id, hint: begin.hint, begin: i + 1, end: 0, indent: begin.indent, open: begin.open };
		} else if (end) {
			if (!closes(end.open, end.close)) problems.push(`${where}: a marker opened with "${end.open}" must ${end.open === '/*' ? 'end with "*/"' : 'not end with "*/"'}`);
			if (!open) problems.push(`${where}: TODO(${end.id}) END without a BEGIN`);
			else if (end.id !== open.lesson) problems.push(`${where}: TODO(${end.id}) END closes the region TODO(${open.lesson}) opened at line ${open.begin}`);
			else {
				regions.push({ ...open, end: i + 1 });
				open = undefined;
			}
		} else if (LOOKS_LIKE_MARKER.test(line)) {
			problems.push(`${where}: not a TODO marker: "${line.trim()}" (write "/* TODO(2.3) BEGIN: hint */" ... "/* TODO(2.3) END */", or with // or #)`);
		}
	});
	if (open) problems.push(`${file}:${open.begin}: TODO(${open.lesson}) BEGIN is never closed by TODO(${open.lesson}) END`);
	if (problems.length) throw new MarkerError(problems);
	return regions;
}

const linesOf = (text: string) => text.split('\n');

/** The regions marked in a file's text; throws MarkerError naming every problem with file:line. */
export function findRegions(text: string, file: string): Region[] {
	return parse(linesOf(text), file).map(({ lesson, hint, begin, end }) => ({ lesson, hint, begin, end }));
}

/** The text with the regions of the lessons `remove` selects replaced by their TODO comment. */
export function starterText(text: string, file: string, remove: (lesson: string) => boolean): string {
	const lines = linesOf(text);
	const regions = parse(lines, file).filter((r) => remove(r.lesson));
	const out: string[] = [];
	let next = 0;
	for (const r of regions) {
		out.push(...lines.slice(next, r.begin - 1));
		const eol = lines[r.begin - 1].endsWith('\r') ? '\r' : '';
		out.push(`${r.indent}${r.open} TODO(${r.lesson}): ${r.hint}${r.open === '/*' ? ' */' : ''}${eol}`);
		next = r.end;
	}
	out.push(...lines.slice(next));
	return out.join('\n');
}

export interface WholeFileExercise {
	lesson: string;
	hint: string;
	/** The starter's whole content. */
	starter: string;
}

/** A sidecar's declaration: the first line "TODO(3.2): hint", then the starter content. */
export function parseSidecar(text: string, sidecarFile: string): WholeFileExercise {
	const newline = text.indexOf('\n');
	const header = (newline < 0 ? text : text.slice(0, newline)).replace(/\r$/, '');
	const m = SIDECAR_HEADER.exec(header)?.groups;
	if (!m) throw new MarkerError([`${sidecarFile}:1: the first line must be "TODO(<lesson>): hint", e.g. "TODO(3.2): write one .ndb line that ..."; it is "${header}"`]);
	return { lesson: m.id, hint: m.hint, starter: newline < 0 ? '' : text.slice(newline + 1) };
}
