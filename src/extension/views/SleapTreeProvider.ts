import * as vscode from 'vscode';
import type { Row } from './describe.js';

const REFRESH_MS = 400;

/** A tree node: a row plus the object the commands of its inline actions receive. */
export interface Node<T = unknown> {
  row: Row;
  value: T;
  id: string;
  children?: Node[];
  /** Clicking the row runs this command with `value`. */
  command?: string;
}

/**
 * One TreeDataProvider for the four views: each gives a function that lists its nodes, and
 * fires `refresh()` when the agent's state changed. Item ids stay stable, so a row updated by
 * progress keeps its selection and expansion.
 */
export class SleapTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly nodes: () => Node[]) {}

  /**
   * Coalesces bursts of progress events into at most ~2 redraws a second. Not more often:
   * VS Code debounces a tree's change events by 200 ms and restarts the wait on each, so
   * changes fired faster than that would hold the rows back until the burst ends.
   */
  refresh(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.changed.fire(undefined);
    }, REFRESH_MS);
  }

  getTreeItem(n: Node): vscode.TreeItem {
    const item = new vscode.TreeItem(n.row.label, n.children ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = n.id;
    item.description = n.row.description;
    item.tooltip = n.row.tooltip;
    item.contextValue = n.row.context;
    item.iconPath = new vscode.ThemeIcon(n.row.icon, n.row.color ? new vscode.ThemeColor(n.row.color) : undefined);
    item.accessibilityInformation = { label: `${n.row.label}, ${n.row.description}` };
    if (n.command) item.command = { command: n.command, title: n.row.label, arguments: [n.value] };
    return item;
  }

  getChildren(n?: Node): Node[] {
    return n ? (n.children ?? []) : this.nodes();
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    this.changed.dispose();
  }
}
