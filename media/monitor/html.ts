// The HTML shell lives in src/core/monitor/html.ts so the extension can import it (src/extension
// imports only core); re-exported here next to the code it loads.
export * from '../../src/core/monitor/html.js';
