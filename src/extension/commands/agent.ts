import * as vscode from 'vscode';
import type { Services } from '../Services.js';
import { register } from './command.js';

/** The room token's key in VS Code's SecretStorage (never in settings or logs). */
export const ROOM_TOKEN_SECRET = 'sleapRtc.roomToken';

export function registerAgentCommands(s: Services, o: { startLocalStack(): Promise<unknown> }): void {
  register(s, 'startLocalStack', 'Start Local Stack', () => o.startLocalStack());
  register(s, 'restartAgent', 'Restart Agent', async () => {
    await s.agent.restart();
    await s.state.reload();
    return true;
  });
  register(s, 'showLog', 'Show Log', () => s.log.show(true));
  register(s, 'setRoomToken', 'Set Room Token', async (value?: unknown) => {
    const token =
      typeof value === 'string'
        ? value
        : await vscode.window.showInputBox({
            title: 'SLEAP RTC room token',
            prompt: 'The token of your room (from its operator). Kept in VS Code’s secret storage; an empty value removes it.',
            password: true,
            ignoreFocusOut: true,
            validateInput: (t) => (t === '' || t.trim().length >= 16 ? undefined : 'room tokens are at least 16 characters'),
          });
    if (token === undefined) return undefined;
    if (token === '') await s.context.secrets.delete(ROOM_TOKEN_SECRET);
    else await s.context.secrets.store(ROOM_TOKEN_SECRET, token.trim());
    s.log.info(token === '' ? 'room token removed' : 'room token saved in secret storage; restarting the agent so it uses it');
    // The agent reads the token at start: a running one of ours is restarted with the new token.
    await s.agent.restart();
    await s.state.reload();
    return true;
  });
  register(s, 'openApiDocs', 'Open Agent API Docs', async () => {
    const client = await s.agent.ensure();
    // The agent's own docs page (/docs: served offline, no token needed to read it, one to try a
    // call) in the browser, from a local desktop window. From a remote or web window the browser
    // would reach the agent through a forwarded port or a proxy, whose Host the agent refuses
    // (DNS-rebinding guard): there, and when the browser is declined, the OpenAPI document opens
    // as JSON in an editor.
    const local = vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop;
    const docs = `${client.url}/docs`;
    if (local && (await vscode.env.openExternal(vscode.Uri.parse(docs)))) return docs;
    const res = await fetch(`${client.url}/openapi.json`);
    const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(await res.json(), null, 2) });
    await vscode.window.showTextDocument(doc, { preview: true });
    return client.url;
  });
  register(s, 'refresh', 'Refresh', async () => {
    await s.agent.ensure();
    await s.state.reload();
    return true;
  });
}
