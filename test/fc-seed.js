'use strict';
// Property tests are reproducible: one seed for the whole run, printed. FC_SEED=<n> replays a run,
// FC_SEED=random explores new cases (how the fuzzing finds were made). Tests that pass a seed keep it.
const fc = require('fast-check');
const env = process.env.FC_SEED;
const seed = env === 'random' ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(env || 20261123);
fc.configureGlobal({ seed });
console.log(`fast-check seed ${seed} (FC_SEED=${seed} replays it, FC_SEED=random explores)`);
