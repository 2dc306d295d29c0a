/**
 * One mapping from ClickHouse exceptions to Tessera error codes, shared by both executors so the
 * same failing SQL gives the same status whichever engine ran it.
 */
import { TesseraError, type ErrorCode } from '@tessera/core';

/**
 * ClickHouse exception codes that mean "the query or its input is wrong" (the caller can fix it),
 * by number, with their names for the messages of engines that do not send the name.
 */
const INVALID_ARGUMENT_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [8, 'THERE_IS_NO_COLUMN'],
  [10, 'NOT_FOUND_COLUMN_IN_BLOCK'],
  [16, 'NO_SUCH_COLUMN_IN_TABLE'],
  [20, 'NUMBER_OF_COLUMNS_DOESNT_MATCH'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [36, 'BAD_ARGUMENTS'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [42, 'NUMBER_OF_ARGUMENTS_DOESNT_MATCH'],
  [43, 'ILLEGAL_TYPE_OF_ARGUMENT'],
  [44, 'ILLEGAL_COLUMN'],
  [46, 'UNKNOWN_FUNCTION'],
  [47, 'UNKNOWN_IDENTIFIER'],
  [50, 'UNKNOWN_TYPE'],
  [53, 'TYPE_MISMATCH'],
  [60, 'UNKNOWN_TABLE'],
  [62, 'SYNTAX_ERROR'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [81, 'UNKNOWN_DATABASE'],
  [117, 'INCORRECT_DATA'],
  [130, 'CANNOT_READ_ARRAY_FROM_TEXT'],
  [179, 'MULTIPLE_EXPRESSIONS_FOR_ALIAS'],
  [184, 'ILLEGAL_AGGREGATION'],
  [190, 'SIZES_OF_ARRAYS_DONT_MATCH'],
  [215, 'NOT_AN_AGGREGATE'],
  [352, 'AMBIGUOUS_COLUMN_NAME'],
  [386, 'NO_COMMON_TYPE'],
  [407, 'DECIMAL_OVERFLOW'],
  [456, 'UNKNOWN_QUERY_PARAMETER'],
  [457, 'BAD_QUERY_PARAMETER'],
  [497, 'ACCESS_DENIED'],
]);

const CODE_BY_NUMBER: ReadonlyMap<number, ErrorCode> = new Map([
  [159, 'DEADLINE_EXCEEDED'], // TIMEOUT_EXCEEDED
  [394, 'DEADLINE_EXCEEDED'], // QUERY_WAS_CANCELLED
  [241, 'RESOURCE_EXHAUSTED'], // MEMORY_LIMIT_EXCEEDED
  [158, 'RESOURCE_EXHAUSTED'], // TOO_MANY_ROWS (max_rows_to_read)
  [307, 'RESOURCE_EXHAUSTED'], // TOO_MANY_BYTES
  [396, 'RESOURCE_EXHAUSTED'], // TOO_MANY_ROWS_OR_BYTES (max_result_rows / bytes)
  [290, 'RESOURCE_EXHAUSTED'], // LIMIT_EXCEEDED (temporary data on disk)
  [202, 'RESOURCE_EXHAUSTED'], // TOO_MANY_SIMULTANEOUS_QUERIES
  [252, 'RESOURCE_EXHAUSTED'], // TOO_MANY_PARTS
  [209, 'UNAVAILABLE'], // SOCKET_TIMEOUT
  [210, 'UNAVAILABLE'], // NETWORK_ERROR
  [242, 'UNAVAILABLE'], // TABLE_IS_READ_ONLY
  [516, 'INVALID_ARGUMENT'], // AUTHENTICATION_FAILED: the configured credentials are wrong
]);

/** Longest engine message kept in a TesseraError (chDB appends whole row dumps to parse errors). */
const MAX_MESSAGE_CHARS = 2_000;

/** The Tessera code of a ClickHouse exception code. */
export function errorCodeOfClickHouse(clickhouseCode: number | undefined): ErrorCode {
  if (clickhouseCode === undefined) return 'INTERNAL';
  if (INVALID_ARGUMENT_CODES.has(clickhouseCode)) return 'INVALID_ARGUMENT';
  return CODE_BY_NUMBER.get(clickhouseCode) ?? 'INTERNAL';
}

/** The exception name in a ClickHouse message (`... (UNKNOWN_TABLE) (version 26.7.2.1)`), if any. */
export function exceptionNameOf(message: string, clickhouseCode: number | undefined): string | undefined {
  const match = /\(([A-Z][A-Z0-9_]+)\)(?: \(version [^)]*\))?\s*$/m.exec(message);
  if (match?.[1] !== undefined) return match[1];
  return clickhouseCode === undefined ? undefined : INVALID_ARGUMENT_CODES.get(clickhouseCode);
}

/** A short form of an engine message: the part before the row dump, bounded. */
export function shortenMessage(message: string): string {
  const trimmed = message.trim();
  return trimmed.length <= MAX_MESSAGE_CHARS ? trimmed : `${trimmed.slice(0, MAX_MESSAGE_CHARS)}…`;
}

/** What the caller was doing, for messages: `query`, `insert into tessera.fv_x__v1`. */
export type OperationLabel = string;

/** Builds the TesseraError of a ClickHouse exception. */
export function clickHouseError(
  operation: OperationLabel,
  clickhouseCode: number | undefined,
  engineMessage: string,
  cause: unknown,
): TesseraError {
  const name = exceptionNameOf(engineMessage, clickhouseCode);
  const label = name === undefined ? 'ClickHouse error' : `ClickHouse ${name}`;
  return new TesseraError(
    errorCodeOfClickHouse(clickhouseCode),
    `${operation} failed: ${label}: ${shortenMessage(engineMessage)}`,
    { cause },
  );
}

/** The error of an operation cancelled through its AbortSignal. */
export function abortedError(operation: OperationLabel, signal: AbortSignal | undefined, cause: unknown): TesseraError {
  const reason: unknown = signal?.reason;
  if (reason instanceof TesseraError) return reason;
  return new TesseraError('DEADLINE_EXCEEDED', `${operation} was cancelled before it finished`, { cause });
}
