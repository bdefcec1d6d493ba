import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { chooseAccel } from '../guest/accel.js';
import { Guest, type GuestImage } from '../guest/guest.js';
import { LabGuest } from '../guest/lab-guest.js';
import { buildInitramfs } from '../guest/initramfs.js';
import { guestKernel } from '../guest/kernel.js';
import { buildProgram } from '../guest/build.js';
import { repoRoot } from '../guest/paths.js';
import { loadExecgate, startRelay, setParam } from '../specs/04-lsm/support.js';
import { startClamdInGuest } from '../clamav/daemon.js';
import { baseDatabase } from '../clamav/samples.js';

const kernel = guestKernel();
const initramfs = buildInitramfs(kernel);
const base = { vmlinux: kernel.vmlinux, initramfs, kernelVersion: kernel.version, kernelBuildDir: kernel.buildDir };
const image: GuestImage = { ...base, accel: await chooseAccel(base) };
const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-bench-'));
const snap = path.join(dir, 'state');
{ const g = await Guest.start(image); await g.saveState(snap); await g.close(); }
const g = await LabGuest.start(image, { incoming: snap });
try {
  await g.afterRestore(); await g.mountHostRoot();
  const loop = await buildProgram(path.join(repoRoot, 'bench/guest/execloop'), { static: true });
  const ew = await buildProgram(path.join(repoRoot, 'bench/guest/exit-with'), { static: true, cflags: ['-nostdlib', '-fno-stack-protector'] });
  await g.upload(loop.file, '/tmp/b/execloop'); await g.upload(ew.file, '/tmp/b/exit-with');
  const r = async (s: string) => { const x = await g.run(s); console.log(`$ ${s}\n${x.output}`); };
  await r('cat /proc/sys/kernel/printk; nproc');
  for (let i = 0; i < 3; i++) await r('/tmp/b/execloop -n 200 /tmp/b/exit-with');
  await loadExecgate(g, 'timeout_ms=10000');
  for (let i = 0; i < 2; i++) await r('/tmp/b/execloop -n 200 /tmp/b/exit-with');
  await r('echo 4 > /proc/sys/kernel/printk');
  for (let i = 0; i < 2; i++) await r('/tmp/b/execloop -n 200 /tmp/b/exit-with');
  const clamd = await startClamdInGuest(g, { databaseDir: await baseDatabase() });
  const t0 = performance.now();
  const relay = await startRelay(g, `--clamd ${clamd.socket}`);
  console.log('relay start ms', performance.now() - t0);
  await setParam(g, 'fail_closed', 1);
  for (let i = 0; i < 3; i++) await r('/tmp/b/execloop -n 200 /tmp/b/exit-with');
  await r('echo 7 > /proc/sys/kernel/printk');
  for (let i = 0; i < 2; i++) await r('/tmp/b/execloop -n 200 /tmp/b/exit-with');
  await r('echo 4 > /proc/sys/kernel/printk');
  await r('for i in 1 2 3 4 5 6 7 8; do cp /tmp/b/exit-with /tmp/b/c$i; echo $i >> /tmp/b/c$i; done; /tmp/b/execloop -v /tmp/b/c1 /tmp/b/c2 /tmp/b/c3 /tmp/b/c4 /tmp/b/c5 /tmp/b/c6 /tmp/b/c7 /tmp/b/c8');
  await r('/tmp/b/execloop -j 8 -n 50 /tmp/b/exit-with');
  console.log(relay.output().split('\n').slice(-5).join('\n'));
} finally { await g.close(); }
