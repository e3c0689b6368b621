/**
 * The webview's side of VS Code: `acquireVsCodeApi()` may be called once per load, so this module
 * holds the one handle. What survives a reload (the panel hidden and shown, VS Code restarted) is
 * the view state below, never the points: the extension sends the history again.
 */
import type { WebviewMessage } from '../../src/core/monitor/protocol.js';
import type { XAxis } from './frame.js';

export interface PersistedState {
  job_id?: string;
  compared: string[];
  axis: XAxis;
  log: boolean;
  smoothing: number;
  outliers: boolean;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(message: WebviewMessage): void {
  api.postMessage(message);
}

export const DEFAULT_STATE: PersistedState = { compared: [], axis: 'epoch', log: true, smoothing: 0.6, outliers: false };

/** The saved state, each field checked (an older version of the webview may have saved it). */
export function loadState(): PersistedState {
  const s = api.getState() as Partial<PersistedState> | undefined;
  if (!s || typeof s !== 'object') return { ...DEFAULT_STATE };
  return {
    job_id: typeof s.job_id === 'string' ? s.job_id : undefined,
    compared: Array.isArray(s.compared) ? s.compared.filter((x): x is string => typeof x === 'string') : [],
    axis: s.axis === 'step' || s.axis === 'time' ? s.axis : 'epoch',
    log: typeof s.log === 'boolean' ? s.log : DEFAULT_STATE.log,
    smoothing: typeof s.smoothing === 'number' && s.smoothing >= 0 && s.smoothing < 1 ? s.smoothing : DEFAULT_STATE.smoothing,
    outliers: typeof s.outliers === 'boolean' ? s.outliers : DEFAULT_STATE.outliers,
  };
}

export function saveState(s: PersistedState): void {
  api.setState(s);
}
