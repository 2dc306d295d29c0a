/**
 * Server transport security: TLS from certificate files, mTLS when a client CA is given. Files are
 * read and checked at start so a wrong path or a key that does not match its certificate stops the
 * server with a message naming the file, instead of failing every handshake later.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import { TesseraError } from '@tessera/core';

/** Certificate files of a TLS server (PEM). */
export interface ServerTlsOptions {
  /** The server's certificate chain. */
  readonly certFile: string;
  /** Its private key. */
  readonly keyFile: string;
  /** CA of client certificates: when given, every client must present a certificate it signed (mTLS). */
  readonly clientCaFile?: string;
  /** How often the files are checked for a change and reloaded, ms. Default 10,000. */
  readonly reloadIntervalMillis?: number;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TesseraError('FAILED_PRECONDITION', `cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
}

/** Default interval of the certificate file check, ms. */
export const DEFAULT_TLS_RELOAD_INTERVAL_MILLIS = 10_000;

function readContext(tls: ServerTlsOptions): SecureContextOptions {
  const cert = readPem(tls.certFile, 'TLS certificate');
  const key = readPem(tls.keyFile, 'TLS private key');
  const ca = tls.clientCaFile === undefined ? undefined : readPem(tls.clientCaFile, 'TLS client CA');
  const context = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(context);
  } catch (error) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `the TLS files ${tls.certFile} and ${tls.keyFile}${ca === undefined ? '' : ` (client CA ${tls.clientCaFile})`} are not usable: ${(error as Error).message}`,
    );
  }
  return context;
}

function modifiedAt(tls: ServerTlsOptions): string {
  return [tls.certFile, tls.keyFile, tls.clientCaFile]
    .map((path) => {
      try {
        return path === undefined ? '' : String(statSync(path).mtimeMs);
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * TLS credentials from files that are read again when they change (certificate rotation by
 * cert-manager or a renewal cron needs no restart). A change that does not load (half-written
 * files, a key that no longer matches) keeps the previous certificate and is reported.
 */
class ReloadingServerCredentials extends ServerCredentials {
  readonly #tls: ServerTlsOptions;
  readonly #warn: (message: string) => void;
  #stamp: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(tls: ServerTlsOptions, warn: (message: string) => void) {
    const stamp = modifiedAt(tls);
    // With a client CA, Node's TLS server requests a certificate and refuses connections without a valid one.
    super({ requestCert: tls.clientCaFile !== undefined, rejectUnauthorized: true }, readContext(tls));
    this.#tls = tls;
    this.#warn = warn;
    this.#stamp = stamp;
  }

  /** Starts checking the files every `intervalMillis`. */
  watch(intervalMillis: number): void {
    this.#timer = setInterval(() => this.#reloadIfChanged(), intervalMillis);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  #reloadIfChanged(): void {
    const stamp = modifiedAt(this.#tls);
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    try {
      this.updateSecureContextOptions(readContext(this.#tls));
    } catch (error) {
      this.#warn(
        `tessera: the changed TLS files did not load; the previous certificate stays in use: ${(error as Error).message}`,
      );
    }
  }
}

/** Server credentials of a TLS configuration, and how to stop watching its files. */
export interface ServerTransport {
  readonly credentials: ServerCredentials;
  stop(): void;
}

/**
 * Server credentials: insecure without `tls`, else TLS (mTLS with a client CA) from files checked now
 * (a wrong path or a key that does not match its certificate stops the server, naming the file) and
 * every `reloadIntervalMillis` after.
 */
export function serverTransport(tls: ServerTlsOptions | undefined, warn: (message: string) => void): ServerTransport {
  if (tls === undefined) return { credentials: ServerCredentials.createInsecure(), stop: () => undefined };
  const credentials = new ReloadingServerCredentials(tls, warn);
  credentials.watch(tls.reloadIntervalMillis ?? DEFAULT_TLS_RELOAD_INTERVAL_MILLIS);
  return { credentials, stop: () => credentials.stop() };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
