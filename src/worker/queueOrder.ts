/** What the queue's order needs of a waiting job. */
export interface Waiting {
  /** The client (agent peer id) that submitted the job. */
  clientPeerId: string;
}

/**
 * The order in which waiting jobs will start: round-robin between the clients of the room, FIFO
 * within one client. The next job is the oldest one of the client served least recently (a
 * client never served counts as served before any other), ties going to the client whose oldest
 * job came first; so one client's ten jobs do not starve another's one. `waiting` is in arrival
 * order; `lastServed` holds, per client, the tick of its last started job (higher: later), and
 * `tick` the last tick given. Pure: the worker's positions (1 = next) are the indexes of this
 * order plus one, and its next job is the first.
 */
export function queueOrder<T extends Waiting>(waiting: readonly T[], lastServed: ReadonlyMap<string, number>, tick: number): T[] {
  const byClient = new Map<string, T[]>();
  for (const j of waiting) {
    const list = byClient.get(j.clientPeerId);
    if (list) list.push(j);
    else byClient.set(j.clientPeerId, [j]);
  }
  const served = new Map(lastServed);
  // Map order is the arrival order of each client's oldest waiting job: the tie-break.
  const clients = [...byClient.keys()];
  const order: T[] = [];
  let t = tick;
  while (order.length < waiting.length) {
    let pick: string | undefined;
    for (const c of clients) {
      if (byClient.get(c)!.length === 0) continue;
      if (pick === undefined || (served.get(c) ?? -1) < (served.get(pick) ?? -1)) pick = c;
    }
    order.push(byClient.get(pick!)!.shift()!);
    served.set(pick!, ++t);
  }
  return order;
}
