// Reads a guest's kernel console and says what happened in it, as typed events.
// The patterns follow the crash titles the kernel itself prints (syzkaller classifies the same
// lines); the OOM-killer and user-space fault lines, which are not crashes, have their own.

export type KernelEvent =
	| { kind: 'oops'; title: string; function?: string; module?: string; line: number }
	| { kind: 'panic'; reason: string; line: number }
	| { kind: 'warning'; location: string; function?: string; line: number }
	| { kind: 'soft-lockup'; task: string; pid: number; seconds: number; line: number }
	| { kind: 'hung-task'; task: string; pid: number; seconds: number; line: number }
	| { kind: 'oom-kill'; victim: string; pid: number; line: number }
	| { kind: 'segfault'; task: string; pid: number; address: string; line: number }
	| { kind: 'trap'; task: string; pid: number; trap: string; line: number };

export type EventKind = KernelEvent['kind'];

/** Lines that open a kernel oops; the capture is the title as syzkaller would name it. */
const OOPS_TITLES: RegExp[] = [
	/(BUG: kernel NULL pointer dereference)/,
	/(BUG: unable to handle page fault)/,
	/(BUG: unable to handle kernel paging request)/,
	/(BUG: TASK stack guard page was hit)/,
	/(BUG: stack guard page was hit)/,
	/(BUG: kernel stack overflow)/,
	/(BUG: sleeping function called from invalid context)/,
	/(BUG: scheduling while atomic)/,
	/(PANIC: double fault)/,
	/^(divide error): [0-9a-f]{4}/,
	/^(general protection fault)/,
	/^(invalid opcode): [0-9a-f]{4}/,
	/^(kernel BUG at [^\s!]+)/,
];

/** Strip ANSI escapes, carriage returns and the "[   12.345678] " printk timestamp. */
export function cleanConsoleLine(raw: string): string {
	return raw
		.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
		.replace(/\r/g, '')
		.replace(/^<\d>/, '')
		.replace(/^\[\s*\d+\.\d+\]\s?/, '');
}

export function consoleLines(text: string): string[] {
	return text.split('\n').map(cleanConsoleLine);
}

/** The function in an "RIP: 0010:name+0x1a/0x30 [module]" line. */
function parseRip(line: string): { function: string; module?: string } | undefined {
	const m = /^RIP: [0-9a-f]{4}:([A-Za-z0-9_.$]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[([\w-]+)\])?/.exec(line);
	if (!m) return undefined;
	return m[2] ? { function: m[1], module: m[2] } : { function: m[1] };
}

export function classifyConsole(text: string): KernelEvent[] {
	const lines = consoleLines(text);
	const events: KernelEvent[] = [];
	// the oops or WARNING whose "RIP:" line has not been seen yet
	let open: Extract<KernelEvent, { kind: 'oops' | 'warning' }> | undefined;
	lines.forEach((l, line) => {
		let m: RegExpExecArray | null;
		const rip = parseRip(l);
		if (rip && open && open.function === undefined) {
			Object.assign(open, rip);
			open = undefined;
			return;
		}
		for (const re of OOPS_TITLES) {
			if ((m = re.exec(l))) {
				// "BUG: unable to handle page fault" is followed by "Oops: 0002 [#1]": one oops, not two
				open = { kind: 'oops', title: m[1], line };
				events.push(open);
				return;
			}
		}
		if ((m = /^Oops: [0-9a-f]{4} \[#\d+\]/.exec(l))) {
			const last = events.at(-1);
			if (!(last && last.kind === 'oops' && line - last.line <= 6)) {
				open = { kind: 'oops', title: 'Oops', line };
				events.push(open);
			}
			return;
		}
		if ((m = /Kernel panic - not syncing: (.*?)\s*(?:\]---)?$/.exec(l))) {
			if (!l.startsWith('---[ end')) events.push({ kind: 'panic', reason: m[1], line });
			return;
		}
		if ((m = /^WARNING: CPU: \d+ PID: \d+ at (\S+)(?: (\S+?)\+0x)?/.exec(l))) {
			open = { kind: 'warning', location: m[1], line };
			if (m[2]) open.function = m[2];
			events.push(open);
			return;
		}
		if ((m = /^watchdog: BUG: soft lockup - CPU#\d+ stuck for (\d+)s! \[(.+):(\d+)\]/.exec(l))) {
			events.push({ kind: 'soft-lockup', task: m[2], pid: +m[3], seconds: +m[1], line });
			return;
		}
		if ((m = /^INFO: task (.+):(\d+) blocked for more than (\d+) seconds\./.exec(l))) {
			events.push({ kind: 'hung-task', task: m[1], pid: +m[2], seconds: +m[3], line });
			return;
		}
		if ((m = /^Out of memory(?: \(oom_kill_allocating_task\))?: Killed process (\d+) \((.+?)\)/.exec(l))) {
			events.push({ kind: 'oom-kill', victim: m[2], pid: +m[1], line });
			return;
		}
		if ((m = /^(.+)\[(\d+)\]: segfault at ([0-9a-f]+) /.exec(l))) {
			events.push({ kind: 'segfault', task: m[1], pid: +m[2], address: m[3], line });
			return;
		}
		if ((m = /^traps: (.+)\[(\d+)\] trap (.+?) ip:/.exec(l))) {
			events.push({ kind: 'trap', task: m[1], pid: +m[2], trap: m[3], line });
		}
	});
	return events;
}

/** A short human summary of events, for error messages. */
export function describeEvents(events: KernelEvent[]): string {
	return events
		.map((e) => {
			switch (e.kind) {
				case 'oops':
					return `oops "${e.title}"${e.function ? ` in ${e.function}${e.module ? ` [${e.module}]` : ''}` : ''}`;
				case 'panic':
					return `panic "${e.reason}"`;
				case 'warning':
					return `WARNING at ${e.location}`;
				case 'soft-lockup':
					return `soft lockup (${e.task}:${e.pid}, ${e.seconds}s)`;
				case 'hung-task':
					return `hung task ${e.task}:${e.pid} (${e.seconds}s)`;
				case 'oom-kill':
					return `OOM killer killed ${e.victim} (${e.pid})`;
				case 'segfault':
					return `segfault: ${e.task}[${e.pid}] at ${e.address}`;
				case 'trap':
					return `trap: ${e.task}[${e.pid}] ${e.trap}`;
			}
		})
		.join('; ');
}

/** The console lines around the first event of interest (or the tail), for evidence. */
export function consoleExcerpt(text: string, events = classifyConsole(text), before = 3, after = 14): string {
	const lines = consoleLines(text);
	const first = events.find((e) => e.kind !== 'segfault' && e.kind !== 'trap') ?? events[0];
	const from = first ? Math.max(0, first.line - before) : Math.max(0, lines.length - after);
	return lines
		.slice(from, from + before + after)
		.filter((l, i, a) => l !== '' || i < a.length - 1)
		.join('\n');
}
