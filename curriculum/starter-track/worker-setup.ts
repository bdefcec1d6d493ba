// Setup file of the starter track, run in each worker before a spec is imported: this worker
// reads the exercise sources through its own link (see track.ts). It must not import
// guest/paths.ts, which reads LAB_SOURCE_ROOT once when it is first imported.
import { inject } from 'vitest';
import { workerSourceRoot } from './track.js';

const track = inject('labStarters');
if (!track) throw new Error('curriculum/starter-track/worker-setup.ts runs only in the starters project, whose global setup provides labStarters');
process.env.LAB_SOURCE_ROOT = workerSourceRoot(track);
