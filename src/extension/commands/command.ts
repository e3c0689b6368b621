import * as vscode from 'vscode';
import { Emitter } from '../../core/Emitter.js';
import type { Services } from '../Services.js';
import { describeError } from '../userError.js';

const shown = new Emitter<{ message: string; actions: string[] }>();
/** Every error message shown to the user (the API exposes it: tests read what users read). */
export const onDidShowError = shown.event;

/** Shows an error the user can act on (buttons for the next step); details go to the log. */
export async function showError(s: Pick<Services, 'log'>, e: unknown, doing: string): Promise<void> {
  const { message, actions } = describeError(e, doing);
  s.log.error(message);
  shown.fire({ message, actions: actions.map((a) => a.title) });
  if (e instanceof Error && e.stack) s.log.debug(e.stack);
  const picked = await vscode.window.showErrorMessage(message, ...actions.map((a) => a.title));
  const action = actions.find((a) => a.title === picked);
  if (action) await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
}

/**
 * Registers `sleapRtc.<id>`: errors become a message with next steps (never a stack trace),
 * and the handler's result is returned to executeCommand callers (tests, other extensions).
 * The arguments are whatever the caller (a menu, a keybinding, executeCommand) passed, unchecked:
 * `unknown`, for the handler to narrow.
 */
export function register(s: Services, id: string, doing: string, handler: (...args: unknown[]) => unknown): void {
  s.context.subscriptions.push(
    vscode.commands.registerCommand(`sleapRtc.${id}`, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (e) {
        // Not awaited: the command returns at once, the message waits for the user.
        void showError(s, e, doing);
        return undefined;
      }
    }),
  );
}

/** A QuickPick of `items`; undefined when there is none (after telling why) or the user left. */
export async function pickOne<T>(items: T[], toItem: (t: T) => vscode.QuickPickItem, placeHolder: string, none: string): Promise<T | undefined> {
  if (items.length === 0) {
    void vscode.window.showInformationMessage(`SLEAP RTC: ${none}`);
    return undefined;
  }
  if (items.length === 1) return items[0];
  const picked = await vscode.window.showQuickPick(
    items.map((t) => ({ ...toItem(t), value: t })),
    { placeHolder, matchOnDescription: true },
  );
  return picked?.value;
}
