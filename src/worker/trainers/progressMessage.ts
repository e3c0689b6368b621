/**
 * Progress messages from external trainers. sleap-nn publishes jsonpickle output, which for its
 * dicts is JSON except that Python writes non-finite floats as bare NaN / Infinity; commands
 * print JSON lines. We accept both, drop `logs: null` (sleap-nn sends it on events without
 * metrics) and any metric that is not a finite number, and leave validation to the run.
 */
export function parseProgressMessage(text: string): unknown {
  const json = text.replace(/"(?:[^"\\]|\\.)*"|-?\bInfinity\b|\bNaN\b/g, (m) => (m.startsWith('"') ? m : 'null'));
  const value = JSON.parse(json) as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const msg = { ...(value as Record<string, unknown>) };
  if (msg.logs === null || msg.logs === undefined) {
    delete msg.logs;
  } else if (typeof msg.logs === 'object' && !Array.isArray(msg.logs)) {
    msg.logs = Object.fromEntries(Object.entries(msg.logs as Record<string, unknown>).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
  }
  return msg;
}
