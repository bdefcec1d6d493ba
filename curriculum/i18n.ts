// The language of everything the curriculum prints for a student: LAB_LANG=en|ja when set, else
// the locale (LC_ALL, then LC_MESSAGES, then LANG: "ja_JP.UTF-8" gives Japanese), else English.
import type { Bilingual } from './lesson-meta.js';

export type Language = keyof Bilingual;

export function languageOf(env: NodeJS.ProcessEnv = process.env): Language {
	if (env.LAB_LANG === 'en' || env.LAB_LANG === 'ja') return env.LAB_LANG;
	const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
	return /^ja([_.@-]|$)/i.test(locale) ? 'ja' : 'en';
}

const CHAPTERS: Record<number, Bilingual> = {
	1: { en: 'User space', ja: 'ユーザ空間' },
	2: { en: 'Kernel modules', ja: 'カーネルモジュール' },
	3: { en: 'ClamAV', ja: 'ClamAV' },
	4: { en: 'An LSM that asks user space', ja: 'ユーザ空間に問い合わせる LSM' },
};

const text = {
	chapter: { en: (n: number, title: string) => `Chapter ${n}: ${title}`, ja: (n: number, title: string) => `第${n}章 ${title}` },
	lessonsDone: { en: (done: number, all: number) => `lessons ${done}/${all}`, ja: (done: number, all: number) => `レッスン ${done}/${all}` },
	points: { en: (got: number, all: number) => `points ${got}/${all}`, ja: (got: number, all: number) => `得点 ${got}/${all}` },
	total: { en: 'Total', ja: '合計' },
	blockedBy: { en: (ids: string) => `blocked by ${ids}`, ja: (ids: string) => `${ids} が先` },
	notRun: { en: 'not run', ja: '未実行' },
	earlierRun: { en: 'earlier run', ja: '以前の実行結果' },
	runFailed: {
		en: 'No lesson ran: the run broke down before its first lesson, so none of your work was checked. Read the error in this output (vitest may print it after this line), fix what it names, then run "npm test" again.',
		ja: 'レッスンは一つも実行されていません: 最初のレッスンの前に実行そのものが止まったため、あなたのコードはまだ確かめられていません。この出力にあるエラー（この行の後に出ることもあります）を読んで原因を直し、もう一度 "npm test" を実行してください。',
	},
	next: { en: 'Next', ja: '次はこれ' },
	allDone: { en: 'Every lesson is done.', ja: 'すべてのレッスンが完了しました。' },
	hint: { en: 'Hint', ja: 'ヒント' },
	files: { en: 'Files', ja: 'ファイル' },
	failures: { en: 'What failed', ja: '失敗したもの' },
	expected: { en: 'Expected', ja: '期待' },
	got: { en: 'Got', ja: '実際' },
	consoleOf: { en: (guest: number, events: string) => `Kernel console of guest ${guest} (${events})`, ja: (guest: number, events: string) => `ゲスト ${guest} のカーネルコンソール (${events})` },
	fullLog: { en: 'Full console log', ja: 'コンソールログ全体' },
	failedOutsideLesson: {
		en: 'This failure is not the lesson\'s: the course itself broke (please report it).',
		ja: 'この失敗はレッスンの判定ではなく、教材自体の不具合です（報告してください）。',
	},
	tampered: {
		en: (files: string) => `The course's own files differ from the ones you were given, so this run is not graded: ${files}. Restore them (git checkout -- <file>).`,
		ja: (files: string) => `配布された教材のファイルが変更されているため、この結果は採点されません: ${files}。元に戻してください（git checkout -- <file>）。`,
	},
	watching: {
		en: (what: string) => `Watching ${what}: save a file to run the lesson again (Ctrl-C stops).`,
		ja: (what: string) => `${what} を監視中: ファイルを保存するとレッスンを再実行します（Ctrl-C で終了）。`,
	},
	noSuchLesson: { en: (id: string) => `There is no lesson ${id}.`, ja: (id: string) => `レッスン ${id} はありません。` },
	noRunYet: {
		en: 'No results yet: this is the first lesson. Run "npm test" to see where you stand.',
		ja: 'まだ結果がありません: 最初のレッスンです。"npm test" で進み具合がわかります。',
	},
} as const;

export type Texts = typeof text;

/** The texts in one language: texts('ja').points(3, 5) is "得点 3/5". */
export function texts(language: Language): { [K in keyof Texts]: Texts[K][Language] } {
	return Object.fromEntries(Object.entries(text).map(([k, v]) => [k, v[language]])) as { [K in keyof Texts]: Texts[K][Language] };
}

export function chapterTitle(chapter: number, language: Language): string {
	return CHAPTERS[chapter]?.[language] ?? '';
}
