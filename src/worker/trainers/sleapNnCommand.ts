import { basename, dirname } from 'node:path';
import { AppError } from '../../core/errors.js';
import type { TrainingConfig } from '../../core/schemas/jobs.js';

/**
 * How the worker runs sleap-nn: the job's config becomes a YAML file in a config folder, and the
 * values only the worker knows (where the dataset is, where the run folder goes, the ZMQ ports)
 * are Hydra overrides on the command line:
 *   sleap-nn train --config-name <name> --config-dir <dir> ++data_config.train_labels_path=[...]
 *     ++trainer_config.ckpt_dir=... ++trainer_config.run_name=... trainer_config.max_epochs=N
 *     ++trainer_config.zmq.publish_port=P ++trainer_config.zmq.controller_port=C
 * sleap-nn writes its run into <ckpt_dir>/<run_name>, which is the job's outDir.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Obj) } : {});

/** The job config as sleap-nn expects it: its three sections, laptop-only paths cleared. */
export function toSleapNnConfig(config: TrainingConfig): Obj {
  const data = obj(config.data_config);
  const trainer = obj(config.trainer_config);
  // Paths on the researcher's machine mean nothing here: the dataset path is an override, and
  // validation comes from validation_fraction.
  data.val_labels_path = null;
  data.test_file_path = null;
  if (trainer.batch_size !== undefined) {
    // Our schema's shorthand; sleap-nn keeps batch sizes in its data loader sections.
    trainer.train_data_loader = { ...obj(trainer.train_data_loader), batch_size: trainer.batch_size };
    trainer.val_data_loader = { ...obj(trainer.val_data_loader), batch_size: trainer.batch_size };
    delete trainer.batch_size;
  }
  const out: Obj = { data_config: data, model_config: obj(config.model_config), trainer_config: trainer };
  for (const k of ['name', 'description'] as const) if (typeof config[k] === 'string') out[k] = config[k];
  return out;
}

export interface SleapNnArgs {
  /** argv prefix that runs sleap-nn, e.g. ['sleap-nn'] or ['/opt/sleap/bin/sleap-nn']. */
  command: string[];
  configDir: string;
  configName: string;
  datasetPath: string;
  outDir: string;
  publishPort: number;
  controllerPort: number;
  maxEpochs?: number;
}

export function sleapNnArgv(a: SleapNnArgs): string[] {
  return [
    ...a.command,
    'train',
    '--config-name',
    a.configName,
    '--config-dir',
    a.configDir,
    `++data_config.train_labels_path=[${hydraQuote(a.datasetPath)}]`,
    `++trainer_config.ckpt_dir=${hydraQuote(dirname(a.outDir))}`,
    `++trainer_config.run_name=${hydraQuote(basename(a.outDir))}`,
    '++trainer_config.save_ckpt=true',
    ...(a.maxEpochs === undefined ? [] : [`trainer_config.max_epochs=${a.maxEpochs}`]),
    `++trainer_config.zmq.publish_port=${a.publishPort}`,
    `++trainer_config.zmq.controller_port=${a.controllerPort}`,
  ];
}

/**
 * A Hydra override value in single quotes. Paths are the worker's own, so rather than escape
 * we refuse the few characters Hydra would interpret inside quotes.
 */
export function hydraQuote(value: string): string {
  if (/['\\\n]|\$\{/.test(value)) {
    throw new AppError('bad_request', `cannot pass ${JSON.stringify(value)} to sleap-nn: paths must not contain quotes, backslashes, newlines or "\${"`);
  }
  return `'${value}'`;
}
