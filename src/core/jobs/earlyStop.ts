/**
 * Why a job that completed before its max_epochs ended: the trainer's early stopping. Both
 * trainers read it from trainer_config.early_stopping (sleap-nn's names: stop_training_on_plateau,
 * patience, min_delta) and end the run as completed, with nothing in the event stream that says
 * why; a researcher who saw 10 of 100 epochs should not have to guess.
 */
export function earlyStopNote(config: { trainer_config?: Record<string, unknown> } | undefined, epochsDone: number, monitored: string): string | undefined {
  const tc = config?.trainer_config ?? {};
  const es = tc.early_stopping;
  if (!es || typeof es !== 'object' || (es as Record<string, unknown>).stop_training_on_plateau !== true) return undefined;
  // Both trainers default to 10 epochs.
  const max = typeof tc.max_epochs === 'number' ? tc.max_epochs : 10;
  if (epochsDone <= 0 || epochsDone >= max) return undefined;
  const patience = (es as Record<string, unknown>).patience;
  const minDelta = (es as Record<string, unknown>).min_delta;
  const by = typeof minDelta === 'number' && minDelta > 0 ? ` by more than ${minDelta}` : '';
  const span = typeof patience === 'number' ? ` for ${patience} epoch${patience === 1 ? '' : 's'}` : '';
  return `stopped early at epoch ${epochsDone} of ${max}: ${monitored} did not improve${by}${span}`;
}
