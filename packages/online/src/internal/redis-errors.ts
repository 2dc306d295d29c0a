/** Redis replies that mean "the topology is changing, try again shortly". */
const RETRIABLE_REPLY_PREFIXES = ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN', 'LOADING', 'READONLY', 'MASTERDOWN'];

/**
 * True when a failed command may succeed after a slot-table refresh and a short wait: a
 * redirection, a cluster that is failing over, or a lost or refused connection. Everything else
 * (a script error, a wrong type) is a bug or bad data and fails at once.
 */
export function isRetriableRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true; // connection closed, timed out, refused, cluster not ready
  const first = error.message.split(' ', 1)[0] ?? '';
  return RETRIABLE_REPLY_PREFIXES.includes(first);
}

/** Short, single-line text of an error for messages. */
export function describeError(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n', 1)[0] ?? error.name) : String(error);
}
