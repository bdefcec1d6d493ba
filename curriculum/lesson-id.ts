// Lesson numbers: "<chapter>.<lesson>" with an optional letter for a lesson that sits between
// two others ("1.2b" comes after "1.2" and before "1.3"). The chapter is the number before the dot.

export const LESSON_ID = /^(\d+)\.(\d+)([a-z]?)$/;
/** The same grammar inside a larger pattern (TODO markers). */
export const LESSON_ID_SOURCE = String.raw`\d+\.\d+[a-z]?`;

export function isLessonId(id: string): boolean {
	return LESSON_ID.test(id);
}

function parts(id: string): [number, number, string] {
	const m = LESSON_ID.exec(id);
	if (!m) throw new Error(`not a lesson number: "${id}" (expected e.g. "2.3" or "1.2b")`);
	return [Number(m[1]), Number(m[2]), m[3] ?? ''];
}

export function chapterOf(id: string): number {
	return parts(id)[0];
}

/** Course order: 1.2 < 1.2b < 1.3 < 1.10 < 2.1. */
export function compareLessonIds(a: string, b: string): number {
	const [ca, la, sa] = parts(a);
	const [cb, lb, sb] = parts(b);
	return ca - cb || la - lb || (sa < sb ? -1 : sa > sb ? 1 : 0);
}
