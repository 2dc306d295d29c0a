import { stringify } from 'yaml';
import type { TesseraConfig } from './schema.js';

/** What a secret is replaced with in printed configuration. */
export const REDACTED = '<redacted>';

/**
 * The configuration with its secrets replaced: the Redis password, the offline server's API key,
 * and the password inside the ClickHouse URL (the rest of the URL stays, so an operator sees where it points).
 */
export function redactConfiguration(config: TesseraConfig): TesseraConfig {
  const { backend } = config;
  return {
    ...config,
    backend: {
      ...backend,
      ...(backend.clickhouseUrl === undefined ? {} : { clickhouseUrl: redactUrl(backend.clickhouseUrl) }),
      offlineServer: {
        ...backend.offlineServer,
        ...(backend.offlineServer.apiKey === undefined ? {} : { apiKey: REDACTED }),
      },
      redis: {
        ...backend.redis,
        ...(backend.redis.password === undefined ? {} : { password: REDACTED }),
      },
    },
  };
}

/** The effective configuration as YAML, secrets redacted (`tessera config print`). */
export function printConfiguration(config: TesseraConfig): string {
  return stringify(redactConfiguration(config));
}

function redactUrl(text: string): string {
  const url = new URL(text);
  if (url.password === '') return text;
  // Set through a placeholder: URL would percent-encode the brackets of REDACTED.
  url.password = 'redacted';
  return url.toString().replace(':redacted@', `:${REDACTED}@`);
}
