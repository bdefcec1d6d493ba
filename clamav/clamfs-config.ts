// Lesson 3.1: the configuration of clamfs, a FUSE file system that shows a folder (root) at
// another place (mountpoint) and asks clamd about every file before letting it be opened.

export interface ClamfsOptions {
	/** clamd's unix socket. */
	socket: string;
	/** The real folder whose files clamfs shows. */
	root: string;
	/** Where clamfs mounts its view of root. */
	mountpoint: string;
}

/** XML attribute values: quotes and ampersands must be escaped. */
const attr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The XML configuration file clamfs reads (clamfs takes its path as its only argument). */
export function clamfsConfig(options: ClamfsOptions): string {
	const elements: string[] = [];
	// TODO(3.1) BEGIN: push the elements <clamd socket mode check>, <filesystem root mountpoint public>, <log method> and <debug fork>
	// fdpass: clamfs opens the file and hands clamd the descriptor, so clamd reads exactly what is opened
	elements.push(`<clamd socket="${attr(options.socket)}" mode="fdpass" check="yes" />`);
	// public: other users may use the mount too (FUSE's allow_other); by default only the mounting user can
	elements.push(`<filesystem root="${attr(options.root)}" mountpoint="${attr(options.mountpoint)}" public="yes" />`);
	elements.push('<log method="stdout" verbose="no" />');
	// stay in the foreground: the process that mounted is the one that serves the file system
	elements.push('<debug fork="no" />');
	// no <cache>: every open is scanned, so a file changed since its last scan, or a clamd that
	// went away, is noticed at the next open
	// TODO(3.1) END
	return ['<?xml version="1.0" encoding="UTF-8"?>', '<clamfs>', ...elements.map((e) => `\t${e}`), '</clamfs>', ''].join('\n');
}
