// What every suite inside VS Code shares: the activated extension's API and the stack the
// runner (test/extension/vscode.test.ts) started, passed in by environment.
import * as vscode from 'vscode';
import type { SleapRtcApi } from '../../../src/extension/extension.js';
import { waitFor } from '../../support/wait.js';

export const EXTENSION_ID = 'sleap-rtc.sleap-rtc';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through test/extension/vscode.test.ts`);
  return v;
}

export const testEnv = {
  /** The stack's data folder (also sleapRtc.dataFolder). */
  data: () => need('SLEAP_RTC_TEST_DATA'),
  /** A synthetic .pkg.slp inside the workspace. */
  dataset: () => need('SLEAP_RTC_TEST_DATASET'),
  /** A folder outside the workspace for files made by tests. */
  scratch: () => need('SLEAP_RTC_TEST_SCRATCH'),
};

let api: SleapRtcApi | undefined;

/** The extension, activated (once), connected to its agent. */
export async function sleap(): Promise<SleapRtcApi> {
  if (!api) {
    const ext = vscode.extensions.getExtension<SleapRtcApi>(EXTENSION_ID);
    if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);
    api = await ext.activate();
  }
  await until(() => api!.link.supervisor.state === 'connected', 90_000, () => `the agent did not connect: ${api!.link.supervisor.state} ${api!.link.supervisor.message ?? ''}`);
  return api;
}

/** waitFor (test/support/wait.ts) for a condition that is true or truthy when met; `why` says what was last seen. */
export async function until<T>(ok: () => T | Promise<T>, timeoutMs: number, why: () => string): Promise<NonNullable<T>> {
  return waitFor(async () => ((await ok()) || undefined) as NonNullable<T> | undefined, 'a condition of the VS Code suite', timeoutMs, { lastSeen: why });
}
