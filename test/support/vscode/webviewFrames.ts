// Finding a webview's content in the workbench page. VS Code nests each webview twice:
//   workbench page -> iframe .../webview/browser/pre/index.html?id=<uuid>  (the host, empty)
//                  -> iframe .../webview/browser/pre/fake.html?id=<uuid>   (the extension's HTML)
// (name "active-frame"; while content is swapped a "pending-frame" may exist beside it). The
// content frames are therefore the children of an index.html host frame; a webview's own iframes
// sit below them and are not candidates.
import type { Frame, Page } from 'playwright-core';
import { waitFor } from '../wait.js';

const HOST = /\/webview\/browser\/pre\/index\.html/;

export function webviewContentFrames(page: Page): Frame[] {
  return page.frames().filter((f) => {
    const parent = f.parentFrame();
    return parent !== null && HOST.test(parent.url()) && !f.isDetached();
  });
}

/**
 * Whether a content frame matches `match`:
 *   - starting with '[' or '#' or '.': a CSS selector that must find an element (`[data-view="monitor"]`);
 *   - otherwise a substring of document.title, of the body's text, or of any `data-*` attribute
 *     written `name=value` (so `monitor` and `data-view=monitor` both match data-view="monitor").
 */
async function matches(frame: Frame, match: string): Promise<boolean> {
  return await frame
    .evaluate((m) => {
      if (/^[[#.]/.test(m)) {
        try {
          return document.querySelector(m) !== null;
        } catch {
          return false;
        }
      }
      if (document.title.includes(m)) return true;
      if ((document.body?.innerText ?? '').includes(m)) return true;
      for (const el of Array.from(document.querySelectorAll('*'))) {
        for (const a of Array.from(el.attributes)) {
          if (a.name.startsWith('data-') && `${a.name}=${a.value}`.includes(m)) return true;
        }
      }
      return false;
    }, match)
    .catch(() => false); // a frame navigating or detaching mid-evaluate is simply not a match
}

/** Short descriptions of the current content frames, for "no webview matches" errors. */
export async function describeWebviews(page: Page): Promise<string[]> {
  return await Promise.all(
    webviewContentFrames(page).map(async (f) => {
      const d = await f.evaluate(() => `title=${JSON.stringify(document.title)} text=${JSON.stringify((document.body?.innerText ?? '').slice(0, 80))}`).catch((e: Error) => `(${e.message.split('\n')[0]})`);
      return `${f.name() || '(unnamed)'}: ${d}`;
    }),
  );
}

/** The content frames matching `match` now (possibly none). */
export async function findWebviews(page: Page, match: string): Promise<Frame[]> {
  const frames = webviewContentFrames(page);
  const ok = await Promise.all(frames.map((f) => matches(f, match)));
  return frames.filter((_, i) => ok[i]);
}

/** Waits up to `timeoutMs` for a content frame matching `match`; the first one when several do. */
export async function waitForWebview(page: Page, match: string, timeoutMs: number): Promise<Frame> {
  try {
    return await waitFor(async () => (await findWebviews(page, match))[0], `a webview matching ${JSON.stringify(match)}`, timeoutMs, { intervalMs: 200 });
  } catch (e) {
    const seen = await describeWebviews(page);
    throw new Error(`${(e as Error).message}; webviews open: ${seen.length ? seen.join(' | ') : 'none'}`, { cause: e });
  }
}
