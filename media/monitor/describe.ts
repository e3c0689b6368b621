/**
 * The side panel's rows: what was trained (from the config) and on what (the dataset summary the
 * agent read). Pure, so tests check them; the config is sleap-nn's three sections, read
 * defensively (a `command` trainer's config may hold anything).
 */
import type { SlpSummaryView } from '../../src/core/schemas/agent.js';

export type Row = [label: string, value: string];

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
/** The first key whose value is set (sleap-nn lists every head and backbone, the unused ones null). */
function chosen(v: unknown): string | undefined {
  const o = obj(v);
  return o ? Object.keys(o).find((k) => o[k] !== null && o[k] !== undefined && o[k] !== false) : undefined;
}

/** max_epochs from a config, for the ETA. */
export function maxEpochsOf(config: unknown): number | undefined {
  return num(obj(obj(config)?.trainer_config)?.max_epochs);
}

/** Early stopping's patience (epochs without improvement before stopping), when configured. */
export function patienceOf(config: unknown): number | undefined {
  const es = obj(obj(obj(config)?.trainer_config)?.early_stopping);
  if (!es || es.stop_training_on_plateau === false) return undefined;
  return num(es.patience);
}

export function configRows(config: unknown): Row[] {
  const c = obj(config) ?? {};
  const data = obj(c.data_config) ?? {};
  const model = obj(c.model_config) ?? {};
  const trainer = obj(c.trainer_config) ?? {};
  const rows: Row[] = [];
  const add = (label: string, value: unknown) => {
    if (value === undefined || value === null || value === '') return;
    rows.push([label, String(value)]);
  };
  add('Trainer', c.trainer);
  const head = chosen(model.head_configs);
  const backbone = chosen(model.backbone_config);
  add('Model', [head, backbone].filter(Boolean).join(' · ') || undefined);
  add('Max epochs', num(trainer.max_epochs));
  add('Batch size', num(trainer.batch_size) ?? num(obj(trainer.train_data_loader)?.batch_size));
  const opt = obj(trainer.optimizer);
  const lr = num(opt?.lr) ?? num(trainer.learning_rate);
  add('Optimizer', [typeof trainer.optimizer_name === 'string' ? trainer.optimizer_name : undefined, lr !== undefined ? `lr ${lr}` : undefined].filter(Boolean).join(', ') || undefined);
  add('Steps per epoch', num(trainer.train_steps_per_epoch) ?? (num(trainer.min_train_steps_per_epoch) !== undefined ? `≥ ${trainer.min_train_steps_per_epoch}` : undefined));
  const patience = patienceOf(config);
  add('Early stopping', patience !== undefined ? `patience ${patience}` : undefined);
  add('Validation fraction', num(data.validation_fraction));
  add('Input scale', num(obj(data.preprocessing)?.scale));
  add('Augmentation', typeof data.use_augmentations_train === 'boolean' ? (data.use_augmentations_train ? 'on' : 'off') : undefined);
  add('Seed', num(trainer.seed));
  add('Run name', typeof trainer.run_name === 'string' ? trainer.run_name : undefined);
  return rows;
}

export function datasetRows(s: SlpSummaryView | undefined): Row[] {
  if (!s) return [];
  const rows: Row[] = [
    ['File', s.file],
    ['Format', s.format === 'pkg.slp' ? 'pkg.slp (frames embedded)' : 'slp'],
    ['Labelled frames', s.labeled_frames.toLocaleString('en-US')],
    ['Instances', `${s.user_instances.toLocaleString('en-US')} user, ${s.predicted_instances.toLocaleString('en-US')} predicted`],
    ['Videos', String(s.videos.length)],
  ];
  const frames = s.videos.reduce((n, v) => n + (v.frames ?? 0), 0);
  if (frames > 0) rows.push(['Video frames', frames.toLocaleString('en-US')]);
  for (const sk of s.skeletons) rows.push([`Skeleton ${sk.name || ''}`.trim(), `${sk.nodes.length} nodes: ${sk.nodes.join(', ')}`]);
  if (s.external_videos.length > 0) rows.push(['Not embedded', `${s.external_videos.length} video(s) referenced by path`]);
  return rows;
}
