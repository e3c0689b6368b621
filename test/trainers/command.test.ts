import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAppError } from '../../src/core/errors.js';
import { trainingConfig } from '../../src/core/schemas/jobs.js';
import { CommandTrainer, createTrainer } from '../../src/worker/trainers/index.js';
import { repoRoot } from '../support/proc.js';
import { trainerSuite } from './trainerSuite.js';

const SCRIPT = join(repoRoot, 'test/trainers/fixtures/jsonl_trainer.py');

trainerSuite({
  name: 'command',
  make: (epochs) => ({
    trainer: new CommandTrainer({ argv: ['/usr/bin/python3', SCRIPT, '--dataset', '{dataset}', '--out={outDir}', '--epochs', String(epochs), '--steps', '4'] }),
    config: trainingConfig.parse({ trainer: 'command' }),
  }),
});

test('the command trainer needs a program, and only the worker config provides one', () => {
  assert.throws(() => new CommandTrainer({ argv: [] }), (e: unknown) => isAppError(e, 'config_invalid'));
  assert.throws(() => createTrainer('command'), (e: unknown) => isAppError(e, 'bad_request') && /no command trainer configured/.test(e.message));
  assert.equal(createTrainer('command', { command: { argv: ['/bin/true'] } }).kind, 'command');
});
