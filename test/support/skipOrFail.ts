/**
 * For a test that needs a tool or a privilege the machine may lack: with `missing` set (why it
 * cannot run), a clear skip on a developer's machine, a failure in CI (`CI=true`), where every
 * test of the full suite must run.
 */
export function skipOrFailWhenMissing(ctx: Mocha.Context, missing: string | undefined): void {
  if (missing === undefined) return;
  if (process.env.CI === 'true') throw new Error(`cannot run: ${missing} (CI=true: every test must run in CI)`);
  console.log(`      skipped: ${missing}`);
  ctx.skip();
}
