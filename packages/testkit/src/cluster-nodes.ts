/** Parsing of `CLUSTER NODES` and `INFO` text, as one node sees the cluster. */

/** Number of hash slots in every Redis Cluster. */
export const SLOT_COUNT = 16_384;

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeEntry {
  readonly id: string;
  readonly host: string;
  /** 0 while the node is in handshake or has no address yet. */
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** Id of the master this replica follows; undefined for masters. */
  readonly masterId: string | undefined;
  /** Flagged `fail` or `fail?` by the node that answered. */
  readonly failing: boolean;
  readonly myself: boolean;
  /** Slot ranges served, inclusive (`[0, 5460]`); migrating/importing markers are left out. */
  readonly slotRanges: readonly (readonly [number, number])[];
}

/**
 * Parses `CLUSTER NODES` output:
 * `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <epoch> <link> <slot>...`.
 */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id = '', endpoint = '', flagText = '', master = '-', , , , , ...slots] = line.split(' ');
      const flags = flagText.split(',');
      const address = endpoint.split('@')[0] ?? '';
      const colon = address.lastIndexOf(':');
      const slotRanges = slots
        .filter((slot) => !slot.startsWith('['))
        .map((slot): [number, number] => {
          const [first = '', last = first] = slot.split('-');
          return [Number(first), Number(last)];
        });
      return {
        id,
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        role: flags.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failing: flags.includes('fail') || flags.includes('fail?'),
        myself: flags.includes('myself'),
        slotRanges,
      };
    });
}

/** Parses `INFO` / `CLUSTER INFO` text into its `key:value` fields. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Slot owners as one node sees them: for each slot the port of the master serving it, or -1 when no
 * master is assigned the slot.
 */
export function slotOwners(entries: readonly ClusterNodeEntry[]): Int32Array {
  const owners = new Int32Array(SLOT_COUNT).fill(-1);
  for (const entry of entries) {
    if (entry.role !== 'master') continue;
    for (const [first, last] of entry.slotRanges) owners.fill(entry.port, first, last + 1);
  }
  return owners;
}

/** Number of replicas whose link to this master is up, from the master's `INFO replication`. */
export function countOnlineReplicas(replicationInfo: Map<string, string>): number {
  let online = 0;
  for (const [key, value] of replicationInfo) {
    if (/^slave\d+$/.test(key) && value.includes('state=online')) online++;
  }
  return online;
}
