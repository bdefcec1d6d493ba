// What every benchmark group records: figures (the median and spread of several runs) and
// ratios between two figures of the same run. Nothing here passes or fails on a threshold.
import { progress } from '../guest/paths.js';

export type Unit = 'ms' | 'µs' | 's' | 'execs/s' | 'scans/s' | 'count';

export interface Figure {
	group: string;
	name: string;
	unit: Unit;
	runs: number;
	median: number;
	min: number;
	max: number;
	/** What was measured when the name cannot say it all: sizes, counts, conditions. */
	note?: string;
}

export interface Ratio {
	group: string;
	name: string;
	value: number;
	/** The two figures, as "group/name". */
	numerator: string;
	denominator: string;
}

/** How many times each figure is measured: LAB_BENCH_RUNS (default 5). */
export function benchRuns(): number {
	const text = process.env.LAB_BENCH_RUNS ?? '5';
	const runs = Number(text);
	if (!Number.isInteger(runs) || runs < 1) throw new Error(`LAB_BENCH_RUNS must be a whole number of at least 1, not "${text}"`);
	return runs;
}

const median = (sorted: number[]) => {
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** A figure's printed value: three significant digits at least, no exponent. */
export function formatValue(value: number): string {
	if (Number.isInteger(value)) return String(value);
	const abs = Math.abs(value);
	return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
}

export class Recorder {
	readonly figures: Figure[] = [];
	readonly ratios: Ratio[] = [];

	/** Record a figure from its samples (one per run) and print it. */
	record(group: string, name: string, unit: Unit, samples: number[], note?: string): Figure {
		if (!samples.length) throw new Error(`${group}: ${name}: no samples`);
		const sorted = [...samples].sort((a, b) => a - b);
		const figure: Figure = { group, name, unit, runs: samples.length, median: median(sorted), min: sorted[0]!, max: sorted[sorted.length - 1]!, ...(note ? { note } : {}) };
		this.figures.push(figure);
		const spread = samples.length > 1 ? ` (min ${formatValue(figure.min)}, max ${formatValue(figure.max)}, ${samples.length} runs)` : '';
		progress(`${group}: ${name}: ${formatValue(figure.median)} ${unit}${spread}${note ? `; ${note}` : ''}`);
		return figure;
	}

	/** Run `once` several times and record what it returns each time. */
	async measure(group: string, name: string, unit: Unit, runs: number, once: (run: number) => Promise<number>, note?: string): Promise<Figure> {
		const samples: number[] = [];
		for (let run = 0; run < runs; run++) samples.push(await once(run));
		return this.record(group, name, unit, samples, note);
	}

	/** The ratio of two medians of this run, printed. */
	ratio(group: string, name: string, numerator: Figure, denominator: Figure): Ratio {
		const r: Ratio = {
			group,
			name,
			value: numerator.median / denominator.median,
			numerator: `${numerator.group}/${numerator.name}`,
			denominator: `${denominator.group}/${denominator.name}`,
		};
		this.ratios.push(r);
		progress(`ratio ${name}: ${r.value.toFixed(2)}`);
		return r;
	}

	find(group: string, name: string): Figure | undefined {
		return this.figures.find((f) => f.group === group && f.name === name);
	}
}
