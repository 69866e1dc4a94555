// How the namespace lab spreads its rounds over its clusters: one queue (longest scenarios first,
// ordered by the caller), each cluster taking the next round as soon as it is up and free, so no
// core waits for the slowest cluster's bring-up or for one scenario's rounds run end to end.

export interface Schedule<C, U> {
  /** Bring one cluster up (rejects: the lab broke). */
  up(c: C): Promise<void>;
  /** What every cluster waits for before its first round (the plan's budget). */
  ready: Promise<void>;
  /** One round; `usable: false` when the cluster could not be brought back for it (the round goes back to the queue). */
  round(c: C, u: U): Promise<{ usable: boolean; reason?: string }>;
  /** Called once every cluster is up. */
  allUp?(): void;
  /** A cluster that takes no further rounds, and why. */
  broke?(c: C, reason: string): void;
}

/**
 * Run the queue on the clusters; returns what was never run (every cluster broke first). The
 * queue is consumed in its order.
 */
export async function runQueue<C, U>(clusters: C[], queue: U[], s: Schedule<C, U>): Promise<U[]> {
  let up = 0;
  await Promise.all(
    clusters.map(async (c) => {
      await s.up(c);
      if (++up === clusters.length) s.allUp?.();
      await s.ready;
      for (;;) {
        const u = queue.shift();
        if (u === undefined) return;
        const r = await s.round(c, u);
        if (!r.usable) {
          // Not this round's fault: it goes back to the queue for a cluster that still works.
          queue.unshift(u);
          s.broke?.(c, r.reason ?? "?");
          return;
        }
      }
    }),
  );
  return queue;
}
