/**
 * The server-heartbeat port (design §3.6 step 2): every server of a cluster-mode deployment reports,
 * every few seconds, which tile rebuilds it has acknowledged — it dual-writes them, and no write of
 * it that folded into the served generation alone is still on its way to the offline queue. A
 * rebuild starts reading offline snapshots only once every live server acknowledged it. Heartbeats
 * expire, so a dead server stops counting. Embedded mode has one server and needs no port.
 */
export interface ServerHeartbeats {
  /** Records this server alive until `nowMillis + ttlMillis`, acknowledging `acks` (rebuild labels). */
  beat(serverId: string, acks: readonly string[], ttlMillis: number): Promise<void>;
  /** The servers whose heartbeat has not expired, with what each acknowledges (expired ones are dropped). */
  live(): Promise<ReadonlyMap<string, readonly string[]>>;
  close(): Promise<void>;
}
