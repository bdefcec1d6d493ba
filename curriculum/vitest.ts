// The projects and reporters of vitest.config.ts, which depend on where the suite runs:
//
// - the course repository (the solutions): project "lessons" runs every spec and self-test on
//   the solutions; project "starters" runs every spec again, each on its own lesson's starter,
//   and must see it fail (the honesty check). Reporters: vitest's default and the honesty summary.
//   LAB_SHOW=1 (npm run demo) leaves the starters out; so does `--project lessons`.
// - a student workspace (curriculum/student-workspace.json exists): project "lessons" runs the
//   specs on the student's files; the reporter is the progress report.
import type { TestProjectInlineConfiguration } from 'vitest/config';
import type { Reporter } from 'vitest/node';
import { repoRoot } from '../guest/paths.js';
import HonestyReporter, { STARTERS_PROJECT } from './reporters/honesty.js';
import ProgressReporter from './reporters/progress.js';
import { isStudentWorkspace } from './workspace.js';

const DEFAULT_EXCLUDE = ['**/node_modules/**', '**/.git/**'];
/** Only the specs: the harness's self-tests (*.test.ts) say nothing about a starter or a student. */
const SPECS_ONLY = [...DEFAULT_EXCLUDE, '**/*.test.ts'];

type ProjectTest = NonNullable<TestProjectInlineConfiguration['test']>;

/**
 * The projects, each made from `lessons` (the settings every spec runs with) rather than by
 * extending the root config: that would repeat the root's global setup, a guest boot, per project.
 */
export function labProjects(lessons: ProjectTest): TestProjectInlineConfiguration[] {
	const student = isStudentWorkspace(repoRoot);
	const own: TestProjectInlineConfiguration = { test: { ...lessons, name: 'lessons', ...(student ? { exclude: SPECS_ONLY } : {}) } };
	if (student || process.env.LAB_SHOW === '1') return [own];
	const starters: TestProjectInlineConfiguration = {
		test: {
			...lessons,
			name: STARTERS_PROJECT,
			// the reliability track tests the solutions; it has no starters to disprove
			exclude: [...SPECS_ONLY, 'specs/09-reliability/**'],
			globalSetup: ['curriculum/starter-track/global-setup.ts'],
			setupFiles: [...(lessons.setupFiles ?? []), 'curriculum/starter-track/worker-setup.ts'],
		},
	};
	return [own, starters];
}

export function labReporters(): (string | Reporter)[] {
	const github = process.env.GITHUB_ACTIONS ? ['github-actions'] : [];
	return isStudentWorkspace(repoRoot) ? [new ProgressReporter(), ...github] : ['default', new HonestyReporter(), ...github];
}
