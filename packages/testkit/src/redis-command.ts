import { connect } from 'node:net';

/**
 * One command to one Redis node over a fresh connection, speaking RESP2 directly. The infrastructure
 * probes nodes that are starting, stopping or failing over; a client with reconnects, offline queues and
 * cluster redirects (ioredis) would hide exactly the states these probes are meant to see.
 */

const DEFAULT_TIMEOUT_MILLIS = 2_000;

/** A reply: simple and bulk strings as strings, integers as numbers, nil as null, arrays nested. */
export type RedisReply = string | number | null | RedisReply[];

/** An error reply (`-ERR ...`, `-MOVED ...`), kept apart from connection failures. */
export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError';
}

/** Address of one Redis node. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Sends `args` as one command to `address` and resolves with its reply. Rejects with
 * {@link RedisReplyError} on an error reply, and with the socket error or a timeout otherwise.
 */
export function sendRedisCommand(
  address: RedisNodeAddress,
  args: readonly (string | number)[],
  timeoutMillis: number = DEFAULT_TIMEOUT_MILLIS,
): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: RedisReply): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    socket.setTimeout(timeoutMillis, () =>
      finish(new Error(`${args.join(' ')} to ${address.host}:${address.port} timed out after ${timeoutMillis} ms`)),
    );
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(new Error(`${address.host}:${address.port} closed the connection before answering ${args[0] ?? ''}`)),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      try {
        const parsed = parseReply(received, 0);
        if (parsed) finish(undefined, parsed.reply);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.write(encodeCommand(args));
  });
}

/** Like {@link sendRedisCommand} for commands whose reply is text (INFO, CLUSTER NODES, ROLE's name). */
export async function sendRedisTextCommand(
  address: RedisNodeAddress,
  args: readonly (string | number)[],
  timeoutMillis?: number,
): Promise<string> {
  const reply = await sendRedisCommand(address, args, timeoutMillis);
  if (typeof reply !== 'string') throw new Error(`${args.join(' ')} answered ${JSON.stringify(reply)}, not text`);
  return reply;
}

function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) {
    const text = String(arg);
    parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
  }
  return Buffer.from(parts.join(''));
}

/** Parses one reply starting at `offset`; undefined when more bytes are needed. */
function parseReply(buffer: Buffer, offset: number): { reply: RedisReply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: afterLine };
    case '-':
      throw new RedisReplyError(line);
    case ':':
      return { reply: Number(line), end: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { reply: buffer.toString('utf8', afterLine, afterLine + length), end: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: afterLine };
      const items: RedisReply[] = [];
      let end = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, end);
        if (!item) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`Unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}
