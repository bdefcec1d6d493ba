// Runs in every test worker (a vitest setup file). A worker is a child process of the runner
// with an IPC channel; when the runner dies (even by SIGKILL) the channel closes, and the worker
// must die too rather than go on running its test, because its guests die only with it
// (QEMU runs under setpriv --pdeathsig KILL).
const key = Symbol.for('kernel-security-lab.worker-lifetime');
const state = globalThis as { [key]?: true };
if (process.send && !state[key]) {
	state[key] = true;
	process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
