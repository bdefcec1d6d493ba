// `npm run grade`: writes results/grade.json (GitHub Classroom runner result) and
// results/badge.json (shields.io endpoint). On GitHub Actions it also sets the step output
// "result" (base64 of grade.json, what autograding-grading-reporter reads) and adds the table
// to the job summary. In a student workspace the lessons come from the manifest's catalogue, so
// a spec that failed to load or was left out still counts, and changed course files void the grade.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { gradeOf } from '../grade.js';
import { checksOf, lessonsOf } from '../results.js';
import { courseChecks, isStudentWorkspace, verifyWorkspace } from '../workspace.js';

export const GRADE_FILE = 'results/grade.json';
export const BADGE_FILE = 'results/badge.json';

export default class GradeReporter implements Reporter {
	private vitest!: Vitest;

	onInit(vitest: Vitest): void {
		this.vitest = vitest;
	}

	onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
		const root = this.vitest.config.root;
		const lessons = lessonsOf(courseChecks(root, checksOf(modules, root, 'lessons')));
		const grade = gradeOf(lessons, isStudentWorkspace(root) ? verifyWorkspace(root) : undefined);
		const json = JSON.stringify(grade.runner, null, '\t');
		mkdirSync(path.join(root, 'results'), { recursive: true });
		writeFileSync(path.join(root, GRADE_FILE), `${json}\n`);
		writeFileSync(path.join(root, BADGE_FILE), `${JSON.stringify(grade.badge, null, '\t')}\n`);
		const score = grade.runner.tests.reduce((n, t) => n + t.score, 0);
		process.stdout.write(`\nGrade: ${score}/${grade.runner.max_score} points (${grade.runner.status}), badge ${grade.badge.message}; ${GRADE_FILE}, ${BADGE_FILE}\n`);
		if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `result=${Buffer.from(JSON.stringify(grade.runner)).toString('base64')}\n`);
		if (process.env.GITHUB_STEP_SUMMARY) {
			const rows = grade.runner.tests.map((t) => `| ${t.status === 'pass' ? '✅' : '❌'} | ${t.name} | ${t.score}/${t.max_score} | ${t.message.split('\n')[0].replace(/\|/g, '\\|')} |`);
			appendFileSync(process.env.GITHUB_STEP_SUMMARY, [`### Grade: ${score}/${grade.runner.max_score}`, '', '| | lesson | points | |', '|---|---|---|---|', ...rows, ''].join('\n'));
		}
		if (grade.runner.status !== 'pass') process.exitCode = 1;
	}
}
