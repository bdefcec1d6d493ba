// What lesson() checks in a spec's metadata when the spec is collected, and what it derives.
import { expect, test } from 'vitest';
import { type Lesson, lessonMeta } from '../guest/lesson.js';

const base: Lesson = {
	id: '2.3',
	title: { en: 'NULL dereference', ja: 'NULL 参照' },
	hint: { en: 'h', ja: 'h' },
	files: ['kernel/hello/hello.c'],
};

test('the chapter comes from the id; points default to 1, requires to none', () => {
	expect(lessonMeta(base)).toEqual({ ...base, chapter: 2, points: 1, requires: [] });
	expect(lessonMeta({ ...base, id: '1.2b', points: 3, requires: ['1.2'] })).toMatchObject({ chapter: 1, points: 3, requires: ['1.2'] });
});

test.each<[string, Partial<Lesson>, string]>([
	['an id without a chapter', { id: '23' }, 'lesson "23": the id must be "<chapter>.<lesson>" such as "2.3" or "1.2b"'],
	['no files', { files: [] }, 'lesson "2.3": files must list the student files the lesson depends on'],
	['a file that is not there', { files: ['kernel/nope/nope.c'] }, 'lesson "2.3": files: "kernel/nope/nope.c" is not a file of this repository (paths are relative to its root)'],
	['a path out of the repository', { files: ['../main/kernel/hello/hello.c'] }, 'lesson "2.3": files: "../main/kernel/hello/hello.c" is not a file of this repository (paths are relative to its root)'],
	['zero points', { points: 0 }, 'lesson "2.3": points must be a whole number of at least 1, not 0'],
	['half a point', { points: 0.5 }, 'lesson "2.3": points must be a whole number of at least 1, not 0.5'],
	['itself as parent', { requires: ['2.3'] }, 'lesson "2.3": requires: "2.3" is not another lesson\'s number'],
	['a parent that is no number', { requires: ['hello'] }, 'lesson "2.3": requires: "hello" is not another lesson\'s number'],
])('refused: %s', (_, change, message) => {
	expect(() => lessonMeta({ ...base, ...change })).toThrow(message);
});
