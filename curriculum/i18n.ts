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
	/** Between the notes of one table row: "(blocked by 4.1, earlier run)". */
	noteSeparator: { en: ', ', ja: '、' },
	runFailed: {
		en: 'No lesson ran: the run broke down before its first lesson, so none of your work was checked. Read the error in this output (vitest may print it after this line), fix what it names, then run "npm test" again.',
		ja: 'レッスンは一つも実行されていません: 最初のレッスンの前に実行そのものが止まったため、あなたのコードはまだ確かめられていません。この出力にあるエラー（この行の後に出ることもあります）を読んで原因を直し、もう一度 "npm test" を実行してください。',
	},
	next: { en: 'Next', ja: '次はこれ' },
	allDone: { en: 'Every lesson is done.', ja: 'すべてのレッスンが完了しました。' },
	hint: { en: 'Hint', ja: 'ヒント' },
	files: { en: 'Files', ja: 'ファイル' },
	failures: { en: 'What failed', ja: '失敗したもの' },
	otherFailures: {
		en: 'Other lessons that failed, first line only (npm run watch -- <lesson> shows a lesson in full, with its evidence):',
		ja: 'ほかに失敗したレッスン（1 行目のみ。npm run watch -- <レッスン> で証拠を含めた全文が見られます）:',
	},
	expected: { en: 'Expected', ja: '期待' },
	got: { en: 'Got', ja: '実際' },
	consoleOf: { en: (guest: number, events: string) => `Kernel console of guest ${guest} (${events})`, ja: (guest: number, events: string) => `ゲスト ${guest} のカーネルコンソール (${events})` },
	fullLog: { en: 'Full console log', ja: 'コンソールログ全体' },
	failedOutsideLesson: {
		en: 'This failure is not the lesson\'s: the course itself broke (please report it).',
		ja: 'この失敗はレッスンの判定ではなく、教材自体の不具合です（報告してください）。',
	},
	tampered: {
		en: (files: string, restore: string) => `The course's own files differ from the ones you were given, so this run is not graded: ${files}. ${restore}`,
		ja: (files: string, restore: string) => `配布された教材のファイルが変更されているため、この結果は採点されません: ${files}。${restore}`,
	},
	restoreFromCommit: {
		en: (commit: string) => `Put them back as you were given them: git checkout ${commit} -- <file> (that is the first commit), and delete the files you added.`,
		ja: (commit: string) => `配布時の内容に戻してください: git checkout ${commit} -- <ファイル>（最初のコミットから取り出します）。追加したファイルは削除してください。`,
	},
	restoreFromHistory: {
		en: 'Put them back as you were given them: git log -- <file> shows the commit that has it, git checkout <commit> -- <file> brings it back; delete the files you added.',
		ja: '配布時の内容に戻してください: git log -- <ファイル> で元の内容を持つコミットを探し、git checkout <コミット> -- <ファイル> で取り出せます。追加したファイルは削除してください。',
	},
	restoreByCopy: {
		en: 'This workspace is not a git repository: copy each of them back from a fresh export (npm run skels -- DIR, in the course repository), and delete the files you added.',
		ja: 'このワークスペースは git リポジトリではありません: コースのリポジトリで新しく書き出したワークスペース（npm run skels -- DIR）から該当するファイルをコピーして戻し、追加したファイルは削除してください。',
	},
	rerun: {
		en: (id: string, pattern: string) => `Run it alone: npm run watch -- ${id} (again at every save), or once: npx vitest run -t '${pattern}'`,
		ja: (id: string, pattern: string) => `このレッスンだけを実行: npm run watch -- ${id}（保存するたびに再実行）、または一度だけ: npx vitest run -t '${pattern}'`,
	},
	watching: {
		en: (what: string) => `Watching ${what}: save a file to run the lesson again (Ctrl-C stops).`,
		ja: (what: string) => `${what} を監視中: ファイルを保存するとレッスンを再実行します（Ctrl-C で終了）。`,
	},
	rerunAt: {
		en: (time: string, file: string | undefined) => (file ? `${time} ${file} changed: running again` : `${time} running again`),
		ja: (time: string, file: string | undefined) => (file ? `${time} ${file} が変更されたので再実行します` : `${time} 再実行します`),
	},
	noSuchLesson: {
		en: (id: string, ids: string) => `There is no lesson ${id}. The lessons are: ${ids}.`,
		ja: (id: string, ids: string) => `レッスン ${id} はありません。レッスンは次のとおりです: ${ids}`,
	},
	lessonNotLoaded: {
		en: (id: string) => `Lesson ${id} did not load: its spec failed (the error is above).`,
		ja: (id: string) => `レッスン ${id} を読み込めませんでした: spec の読み込みに失敗しています（エラーは上に表示されています）。`,
	},
	usageHint: {
		en: 'usage: npm run hint [-- <lesson>], e.g. npm run hint -- 2.3',
		ja: '使い方: npm run hint [-- <レッスン>]（例: npm run hint -- 2.3）',
	},
	usageWatch: {
		en: 'usage: npm run watch -- <lesson>, e.g. npm run watch -- 2.3',
		ja: '使い方: npm run watch -- <レッスン>（例: npm run watch -- 2.3）',
	},
	usageExport: {
		en: (command: string) => `usage: npm run ${command} -- DIR (a new or empty folder outside the course repository)`,
		ja: (command: string) => `使い方: npm run ${command} -- DIR（コースのリポジトリの外にある、新しいか空のフォルダ）`,
	},
	destInsideCourse: {
		en: (dir: string) => `${dir}: write the workspace outside the course repository.`,
		ja: (dir: string) => `${dir}: ワークスペースはコースのリポジトリの外に書き出してください。`,
	},
	destNotEmpty: {
		en: (dir: string) => `${dir} is not empty: give a new folder, or an empty one.`,
		ja: (dir: string) => `${dir} は空ではありません: 新しいフォルダか空のフォルダを指定してください。`,
	},
	destIsFile: {
		en: (dir: string) => `${dir} is a file, not a folder, so the workspace cannot go there.`,
		ja: (dir: string) => `${dir} はフォルダではなくファイルなので、そこにはワークスペースを書き出せません。`,
	},
	destNotFolder: {
		en: (dir: string, at: string) => `${dir}: ${at} is a file, not a folder, so the workspace cannot go there.`,
		ja: (dir: string, at: string) => `${dir}: ${at} はフォルダではなくファイルなので、そこにはワークスペースを書き出せません。`,
	},
	destCannotCreate: {
		en: (dir: string, at: string, reason: string) => `${dir}: cannot create the folder ${at} (${reason}).`,
		ja: (dir: string, at: string, reason: string) => `${dir}: フォルダ ${at} を作成できません（${reason}）。`,
	},
	destVirtualParent: {
		en: (dir: string, at: string, parent: string) => `${dir}: cannot create the folder ${at}: ${parent} exists but takes no new folders (a virtual file system such as /proc or /sys).`,
		ja: (dir: string, at: string, parent: string) => `${dir}: フォルダ ${at} を作成できません: ${parent} は存在しますが、新しいフォルダを作れない場所です（/proc や /sys のような仮想ファイルシステム）。`,
	},
	destCannotWrite: {
		en: (dir: string, reason: string) => `${dir}: cannot write in this folder (${reason}).`,
		ja: (dir: string, reason: string) => `${dir}: このフォルダには書き込めません（${reason}）。`,
	},
	alreadyWorkspace: {
		en: (root: string) => `${root} is a student workspace already: export from the course repository, which has the solutions.`,
		ja: (root: string) => `${root} はすでに学生用ワークスペースです: 解答のあるコースのリポジトリから書き出してください。`,
	},
	noLessonMatched: {
		en: (pattern: string, ids: string) => `No lesson test matched the filter -t '${pattern}', so nothing was checked; the lessons are: ${ids}.`,
		ja: (pattern: string, ids: string) => `フィルタ -t '${pattern}' に一致するレッスンのテストがないため、何も確かめていません。レッスンは次のとおりです: ${ids}`,
	},
	needsFirst: {
		en: (id: string, parents: string, many: boolean) => `${id} needs ${parents} first: ${many ? 'they' : 'it'} did not pass in your last run.`,
		ja: (id: string, parents: string, _many: boolean) => `${id} の前に ${parents} を済ませてください: 前回の実行で合格していません。`,
	},
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
