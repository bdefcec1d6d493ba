// For guest.test.ts: start a guest from a snapshot, print QEMU's pid, then wait to be killed.
import { Guest, type GuestImage } from '../guest.js';

const [snapshot, image] = process.argv.slice(2);
const guest = await Guest.start(JSON.parse(image) as GuestImage, { incoming: snapshot });
process.stdout.write(`${guest.pid}\n`);
setInterval(() => {}, 1 << 30);
