// The commands' way to refuse: a mistake of the person running them (a missing argument, a lesson
// that does not exist, a destination that cannot take a workspace) is one line on stderr and an
// exit status, never a stack trace. Anything else thrown is a bug of the course and keeps its stack.

/** Exit statuses: 2 when the command line itself is wrong, 1 when it is right but cannot be done. */
export const USAGE = 2;
export const REFUSED = 1;

export class UserError extends Error {
	constructor(
		message: string,
		readonly exitCode: number = REFUSED,
	) {
		super(message);
		this.name = 'UserError';
	}
}

/** Runs a command's body: a UserError ends the process with its one line and status; other errors propagate. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
	try {
		await body();
	} catch (e) {
		if (!(e instanceof UserError)) throw e;
		process.stderr.write(`${e.message}\n`);
		process.exit(e.exitCode);
	}
}
