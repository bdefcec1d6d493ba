// The EICAR test file, made at run time. Its 68 bytes are kept here only XOR-masked, so the
// repository never holds them and `git grep` (or a scanner run over the checkout) finds nothing.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const MASK = 0x1f;
const MASKED =
	'472a503e4f3a5f5e4f442b434f45472a2b374f4136285c5c3628623b5a565c5e4d324c4b5e515b5e4d5b325e514b5649564d4a4c324b5a4c4b325956535a3e3b57345735';
/** md5 of the real file, as in fixtures/signatures/lab.hdb. */
export const EICAR_MD5 = '44d88612fea8a8f36de82e1278abb02f';

/** The EICAR test file's bytes. */
export function eicarBytes(): Buffer {
	const bytes = Buffer.from(MASKED, 'hex').map((b) => b ^ MASK);
	const md5 = createHash('md5').update(bytes).digest('hex');
	if (md5 !== EICAR_MD5) throw new Error(`the EICAR bytes came out wrong (md5 ${md5})`);
	return Buffer.from(bytes);
}

/** Write the EICAR test file at `file` on this machine. */
export function writeEicar(file: string): void {
	writeFileSync(file, eicarBytes());
}

/** Write the EICAR test file at `file` in a guest (anything with LabGuest's put()). */
export async function putEicar(guest: { put(path: string, data: Buffer, mode?: number): Promise<void> }, file: string): Promise<void> {
	await guest.put(file, eicarBytes());
}
