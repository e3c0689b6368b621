/**
 * The keys trainers put in progress `logs`, mapped to the monitor's series. Two vocabularies
 * arrive: sleap-nn's (batch `loss`; epoch `train/loss`, `val/loss`, `train/lr`, `train/time`)
 * and the builtin trainer's (batch `train/loss`; epoch `train/loss`, `val/loss`,
 * `learning_rate`). Keras-style names (`val_loss`, `lr`) are accepted too, so a `command`
 * trainer printing them is drawn as well. The first key found wins.
 */
export type Logs = Readonly<Record<string, number>>;

export const BATCH_LOSS_KEYS = ['loss', 'train/loss', 'train_loss', 'batch/loss'] as const;
export const EPOCH_TRAIN_KEYS = ['train/loss', 'train_loss', 'loss'] as const;
export const EPOCH_VAL_KEYS = ['val/loss', 'val_loss'] as const;
export const LR_KEYS = ['train/lr', 'learning_rate', 'lr'] as const;
export const EPOCH_TIME_KEYS = ['train/time', 'train_time'] as const;

/** The first of `keys` present in `logs` (with a number), else undefined. */
export function firstKey(logs: Logs, keys: readonly string[]): string | undefined {
  for (const k of keys) if (typeof logs[k] === 'number') return k;
  return undefined;
}

export function pick(logs: Logs, keys: readonly string[]): number | undefined {
  const k = firstKey(logs, keys);
  return k === undefined ? undefined : logs[k];
}

/**
 * The CSV series name of every number in a batch_end's or epoch_end's logs, each once: the
 * chosen key of a known concept gets the canonical name (`batch_loss`, `train_loss`, `val_loss`,
 * `learning_rate`, `epoch_time_s`), any other key keeps its own name (batch keys prefixed
 * `batch:` so they never collide with an epoch key of the same name).
 */
export function namedValues(kind: 'batch' | 'epoch', logs: Logs): [name: string, value: number][] {
  const canonical = new Map<string, string>();
  if (kind === 'batch') {
    const k = firstKey(logs, BATCH_LOSS_KEYS);
    if (k !== undefined) canonical.set(k, 'batch_loss');
  } else {
    for (const [keys, name] of [
      [EPOCH_TRAIN_KEYS, 'train_loss'],
      [EPOCH_VAL_KEYS, 'val_loss'],
      [LR_KEYS, 'learning_rate'],
      [EPOCH_TIME_KEYS, 'epoch_time_s'],
    ] as const) {
      const k = firstKey(logs, keys);
      if (k !== undefined && !canonical.has(k)) canonical.set(k, name);
    }
  }
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(logs)) {
    if (typeof v !== 'number') continue;
    out.push([canonical.get(k) ?? (kind === 'batch' ? `batch:${k}` : k), v]);
  }
  return out;
}
