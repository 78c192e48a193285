import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM } from './tools.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Headless Chromium for the duration of `fn`; closed in `finally`. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const executablePath = CHROMIUM.find(process.env);
  if (!executablePath) throw new Error(CHROMIUM.problem(process.env));
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
