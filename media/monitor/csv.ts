// The full-data CSV lives in src/core/monitor/csv.ts: the extension writes it (paging the
// agent's history) and src/extension may import only core. Re-exported here for the webview side.
export * from '../../src/core/monitor/csv.js';
