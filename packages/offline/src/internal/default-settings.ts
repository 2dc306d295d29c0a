/**
 * Output settings both executors apply to every query, so the same SQL returns the same bytes
 * from chDB and from a ClickHouse server.
 */
export const DEFAULT_OUTPUT_SETTINGS: Readonly<Record<string, string | number>> = {
  // A ClickHouse server quotes 64-bit integers in JSON by default, chDB does not: quote them
  // everywhere so Int64 never loses precision in a JavaScript number.
  output_format_json_quote_64bit_integers: 1,
  // ArrowStream output is LZ4-compressed by default and `apache-arrow` cannot read that.
  output_format_arrow_compression_method: 'none',
};
