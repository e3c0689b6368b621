/**
 * The Training Monitor webview's entry (bundled by scripts/build/webviews.mjs into
 * media/dist/monitor.js, with uPlot's stylesheet and ours into media/dist/monitor.css).
 * The page is the extension's shell (src/core/monitor/html.ts: #monitor); any shell works
 * that has an element with id "monitor" or "app" to build into.
 */
import 'uplot/dist/uPlot.min.css';
import './monitor.css';
import { MonitorApp } from './MonitorApp.js';

const root = document.getElementById('monitor') ?? document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));
root.classList.add('monitor');
new MonitorApp(root);
