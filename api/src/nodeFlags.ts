/**
 * V8 flags every API process starts with in production: the Dockerfile's `api` CMD repeats them
 * (test/compose.test.ts keeps the two in step), and the local stack and the benchmark start the
 * API with them too. Left alone, V8 lets the API's heap grow to about four times its ~20 MB of
 * live objects, plus a 32 MB young generation, before collecting: 150–177 MB RSS under load.
 * These cap each semi-space at 8 MB and let the old generation grow 50 % past its live size,
 * which holds the peak at about 125–130 MB for a few per cent more API CPU (README, "Memory").
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'] as const;
