import type { Browser } from 'playwright-core';

/** Debian's chromium, the browser of the editor tests and of the README's picture. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless chromium with the flags this machine's closed network needs (no background traffic). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
