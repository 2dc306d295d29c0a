/** Items routed to one master: one pipeline. */
export interface NodeGroup {
  /** The master's `host:port` per the client's slot table, or undefined when the slot is unassigned. */
  readonly master: string | undefined;
  /** Indices into the caller's arrays. */
  readonly indices: number[];
}

/**
 * Groups items by the node list that serves their slot in the client's slot table. ioredis
 * accepts a cluster pipeline only when every key's slot maps to the same node list (its "slots
 * allocation group"), so the list, not only the master, is the group. The table shares one list
 * object across a slot range, so grouping by identity costs no string work per key; two lists
 * with equal contents only make two pipelines to one node, which is still correct.
 */
export function groupKeysByNode(
  slotTable: readonly (readonly string[] | undefined)[],
  slots: Uint16Array,
  indices: readonly number[],
): NodeGroup[] {
  const groups = new Map<readonly string[] | undefined, NodeGroup>();
  for (const i of indices) {
    const nodes = slotTable[slots[i] as number];
    let group = groups.get(nodes);
    if (group === undefined) {
      group = { master: nodes?.[0], indices: [] };
      groups.set(nodes, group);
    }
    group.indices.push(i);
  }
  return [...groups.values()];
}
