import assert from 'node:assert/strict';
import { test } from 'node:test';
import { earlyStopNote } from '../../src/core/jobs/earlyStop.js';

test('a run that early stopping ended before max_epochs says so; otherwise nothing', () => {
  const es = (o: Record<string, unknown>, max?: number) => ({ trainer_config: { ...(max ? { max_epochs: max } : {}), early_stopping: { stop_training_on_plateau: true, ...o } } });
  assert.equal(earlyStopNote(es({ patience: 5 }, 100), 10, 'val/loss'), 'stopped early at epoch 10 of 100: val/loss did not improve for 5 epochs');
  assert.equal(earlyStopNote(es({ patience: 1, min_delta: 0.01 }, 50), 3, 'train/loss'), 'stopped early at epoch 3 of 50: train/loss did not improve by more than 0.01 for 1 epoch');
  assert.equal(earlyStopNote(es({}), 4, 'val/loss'), 'stopped early at epoch 4 of 10: val/loss did not improve', 'both trainers default to 10 epochs');
  assert.equal(earlyStopNote(es({ patience: 5 }, 100), 100, 'val/loss'), undefined, 'all epochs ran');
  assert.equal(earlyStopNote({ trainer_config: { max_epochs: 100, early_stopping: { patience: 5 } } }, 10, 'val/loss'), undefined, 'early stopping off (stop_training_on_plateau not true)');
  assert.equal(earlyStopNote({ trainer_config: { max_epochs: 100 } }, 10, 'val/loss'), undefined);
  assert.equal(earlyStopNote(undefined, 10, 'val/loss'), undefined);
});
