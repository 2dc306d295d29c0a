/**
 * Server transport security: TLS from certificate files, mTLS when a client CA is given. Files are
 * read and checked at start so a wrong path or a key that does not match its certificate stops the
 * server with a message naming the file, instead of failing every handshake later.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
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
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TesseraError('FAILED_PRECONDITION', `cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
}

/** Server credentials: insecure without `tls`, else TLS (and mTLS with a client CA). */
export function serverCredentials(tls: ServerTlsOptions | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const cert = readPem(tls.certFile, 'TLS certificate');
  const key = readPem(tls.keyFile, 'TLS private key');
  const ca = tls.clientCaFile === undefined ? null : readPem(tls.clientCaFile, 'TLS client CA');
  try {
    createSecureContext({ cert, key, ...(ca === null ? {} : { ca }) });
  } catch (error) {
    throw new TesseraError(
      'FAILED_PRECONDITION',
      `the TLS files ${tls.certFile} and ${tls.keyFile}${ca === null ? '' : ` (client CA ${tls.clientCaFile})`} are not usable: ${(error as Error).message}`,
    );
  }
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
