/**
 * Feast's HTTP feature-server endpoints on a listener of their own, so a Feast SDK configured with
 * `online_store: {type: remote, path: http://<host>:<port>}` reads and writes through Tessera:
 * `POST /get-online-features`, `POST /push`, `POST /write-to-online-store`, `GET /health`.
 * Every call goes through the same entry points as gRPC (FeatureStoreCalls): one validation, one
 * read plan cache, one write path. Authentication is the gRPC server's: `Authorization: Bearer <key>`
 * (Feast's client sends it with `auth: {type: oidc, token_env_var: …}`), with the same scopes and
 * rate limit; TLS with the server's certificate files.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { TesseraError, isTesseraError, listLatestViews, scopeAllows } from '@tessera/core';
import type { ErrorCode, Logger, Scope } from '@tessera/core';
import type { ApiKeyAuthenticator, AuthenticationResult, Registry } from '@tessera/registry';
import { WriteTarget } from '@tessera/proto';
import type { FeatureStoreCalls } from '../feature-store-service.js';
import { withRefreshOnMiss, type RegistryAccess } from '../registry-access.js';
import { RateLimiter, type RateLimit } from '../rate-limit.js';
import type { ServerTlsOptions } from '../tls.js';
import { formatReadResponse, frameToWrite, parseReadBody, pushTarget, type FeastExpiredMode } from './feast-json.js';

/** Largest request body by default, bytes (413 beyond). */
export const DEFAULT_FEAST_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** How long one HTTP call may take, ms (HTTP carries no deadline of its own). */
export const DEFAULT_FEAST_REQUEST_TIMEOUT_MILLIS = 30_000;

/** Options of the Feast HTTP listener. */
export interface FeastHttpOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 16 MiB. */
  readonly maxBodyBytes?: number;
  /** Default 30,000. */
  readonly requestTimeoutMillis?: number;
  /** A value older than its view's TTL: see {@link FeastExpiredMode}. Default `serve-stale`. */
  readonly expired?: FeastExpiredMode;
}

/** What the listener serves with (built by the feature server). */
export interface FeastHttpDeps {
  readonly calls: FeatureStoreCalls;
  /** Views by name (writes), refreshed on a miss like the gRPC path. */
  readonly registryAccess: RegistryAccess;
  /** The registry's state (push sources → views). */
  readonly registry: Registry;
  readonly authenticator: ApiKeyAuthenticator | undefined;
  readonly rateLimit?: RateLimit;
  readonly tls: ServerTlsOptions | undefined;
  readonly logger: Logger;
}

/** A running Feast HTTP listener. */
export interface FeastHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Feast's error detail: FeastError.to_error_detail(), a JSON string the SDK turns back into an exception. */
const ERROR_HTTP: Readonly<Record<ErrorCode, { status: number; feastClass: string }>> = {
  INVALID_ARGUMENT: { status: 422, feastClass: 'FeastError' },
  NOT_FOUND: { status: 404, feastClass: 'FeastObjectNotFoundException' },
  ALREADY_EXISTS: { status: 409, feastClass: 'FeastError' },
  FAILED_PRECONDITION: { status: 400, feastClass: 'FeastError' },
  RESOURCE_EXHAUSTED: { status: 429, feastClass: 'FeastError' },
  UNAVAILABLE: { status: 503, feastClass: 'FeastError' },
  DEADLINE_EXCEEDED: { status: 504, feastClass: 'FeastError' },
  UNIMPLEMENTED: { status: 501, feastClass: 'FeastError' },
  UNAUTHENTICATED: { status: 401, feastClass: 'FeastPermissionError' },
  PERMISSION_DENIED: { status: 403, feastClass: 'FeastPermissionError' },
  INTERNAL: { status: 500, feastClass: 'FeastError' },
};

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** A body over the limit: HTTP 413, not the 429 of other RESOURCE_EXHAUSTED errors. */
class BodyTooLargeError extends TesseraError {
  constructor(maxBytes: number) {
    super('RESOURCE_EXHAUSTED', `the body is larger than ${maxBytes} bytes (feast.maxBodyBytes); split the request`);
  }
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly scope: Scope | 'open';
  handle(body: unknown, deadlineMillis: number): Promise<string>;
}

/** Starts the listener; a port taken or certificate files that cannot be read are named. */
export async function startFeastHttpServer(options: FeastHttpOptions, deps: FeastHttpDeps): Promise<FeastHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_FEAST_MAX_BODY_BYTES;
  const timeoutMillis = options.requestTimeoutMillis ?? DEFAULT_FEAST_REQUEST_TIMEOUT_MILLIS;
  const limiter = deps.authenticator === undefined ? undefined : new RateLimiter(deps.rateLimit);
  const routes = createRoutes(deps, options.expired ?? 'serve-stale');
  let closing = false;

  const serve = (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = routes.get(path);
    if (route === undefined) {
      send(response, 404, '{"detail":"Not Found"}');
      return;
    }
    if (request.method !== route.method) {
      send(response, 405, '{"detail":"Method Not Allowed"}');
      return;
    }
    if (closing) {
      send(response, 503, errorBody('UNAVAILABLE', 'the server is shutting down; retry on another replica'));
      return;
    }
    const run = async (): Promise<string> => {
      await authorize(request, route.scope);
      const body = route.method === 'POST' ? await readJson(request, maxBodyBytes) : undefined;
      return route.handle(body, Date.now() + timeoutMillis);
    };
    run().then(
      (text) => send(response, 200, text),
      (error: unknown) => {
        const known = isTesseraError(error);
        const code: ErrorCode = known ? error.code : 'INTERNAL';
        // As on gRPC: an internal error's text stays in the server's log, never in the answer.
        if (code === 'INTERNAL')
          deps.logger.error({ err: error, component: 'feast-http' }, `feast ${path}: internal error`);
        const status = error instanceof BodyTooLargeError ? 413 : ERROR_HTTP[code].status;
        send(
          response,
          status,
          errorBody(code, code === 'INTERNAL' || !known ? 'internal error (see the server log)' : error.message),
        );
      },
    );
  };

  const authorize = async (request: IncomingMessage, scope: Scope | 'open'): Promise<void> => {
    if (deps.authenticator === undefined || scope === 'open') return;
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) {
      throw new TesseraError(
        'UNAUTHENTICATED',
        "this server needs an API key: send the header 'Authorization: Bearer <key>'",
      );
    }
    let result: AuthenticationResult;
    try {
      result = deps.authenticator.authenticateCached(token) ?? (await deps.authenticator.authenticate(token));
    } catch (error) {
      throw new TesseraError('UNAVAILABLE', 'API keys cannot be checked right now; retry', { cause: error });
    }
    if (!result.ok) {
      throw new TesseraError(
        'UNAUTHENTICATED',
        result.reason === 'revoked' ? 'the API key was revoked' : 'the API key is not valid',
      );
    }
    if (!scopeAllows(result.principal.scopes, scope)) {
      throw new TesseraError(
        'PERMISSION_DENIED',
        `API key "${result.principal.name}" (scopes ${result.principal.scopes.join(',')}) lacks the ${scope} scope ${request.url ?? ''} needs`,
      );
    }
    if (limiter?.take(result.principal.id) === false) {
      throw new TesseraError(
        'RESOURCE_EXHAUSTED',
        `API key "${result.principal.name}" is over its rate limit of ${limiter.requestsPerSecond} requests/s; retry with backoff`,
      );
    }
  };

  const server: HttpServer =
    deps.tls === undefined
      ? createHttpServer(serve)
      : createHttpsServer(
          {
            cert: readFileSync(deps.tls.certFile),
            key: readFileSync(deps.tls.keyFile),
            ...(deps.tls.clientCaFile === undefined
              ? {}
              : { ca: readFileSync(deps.tls.clientCaFile), requestCert: true, rejectUnauthorized: true }),
          },
          serve,
        );
  server.requestTimeout = timeoutMillis;
  server.headersTimeout = Math.min(timeoutMillis, 60_000);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new TesseraError(
          'FAILED_PRECONDITION',
          `the Feast HTTP endpoint cannot listen on ${host}:${options.port}: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : options.port);
    });
  });
  return {
    port,
    close: () => {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}

function createRoutes(deps: FeastHttpDeps, expired: FeastExpiredMode): Map<string, Route> {
  const write = async (
    viewName: string,
    frame: unknown,
    target: WriteTarget,
    where: string,
    deadlineMillis: number,
  ): Promise<void> => {
    const view = await withRefreshOnMiss(deps.registryAccess, () => deps.registryAccess.view(viewName));
    await deps.calls.write(frameToWrite(view, frame, target, where), deadlineMillis);
  };
  return new Map<string, Route>([
    [
      '/get-online-features',
      {
        method: 'POST',
        scope: 'read',
        async handle(body, deadlineMillis) {
          const read = parseReadBody(body);
          const response = await deps.calls.getOnlineFeatures(read.request, deadlineMillis, {
            keepExpiredValues: expired === 'serve-stale',
          });
          return formatReadResponse(read, response, expired);
        },
      },
    ],
    [
      '/write-to-online-store',
      {
        method: 'POST',
        scope: 'write',
        async handle(body, deadlineMillis) {
          const request = objectBody(body, 'write-to-online-store');
          const name = request.feature_view_name;
          if (typeof name !== 'string' || name === '') {
            throw new TesseraError(
              'INVALID_ARGUMENT',
              'write-to-online-store: feature_view_name must name a feature view',
            );
          }
          await write(
            name,
            request.df,
            WriteTarget.WRITE_TARGET_ONLINE,
            `write-to-online-store ${name}`,
            deadlineMillis,
          );
          return 'null';
        },
      },
    ],
    [
      '/push',
      {
        method: 'POST',
        scope: 'write',
        async handle(body, deadlineMillis) {
          const request = objectBody(body, 'push');
          const source = request.push_source_name;
          if (typeof source !== 'string' || source === '') {
            throw new TesseraError('INVALID_ARGUMENT', 'push: push_source_name must name a push source');
          }
          const target = pushTarget(request.to);
          // Feast pushes to every view fed by the push source; in Tessera that is `source: {kind: push, location: <name>}`.
          const views = listLatestViews(deps.registry.state()).filter(
            (v) => v.source?.kind === 'push' && v.source.location === source,
          );
          if (views.length === 0) {
            throw new TesseraError(
              'NOT_FOUND',
              `push: no feature view has the push source ${source} (source: {kind: push, location: ${source}})`,
            );
          }
          for (const view of views)
            await write(view.name, request.df, target, `push ${source} → ${view.name}`, deadlineMillis);
          return '';
        },
      },
    ],
    [
      '/health',
      {
        method: 'GET',
        scope: 'open',
        handle: () => Promise.resolve(''),
      },
    ],
  ]);
}

function objectBody(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TesseraError('INVALID_ARGUMENT', `${what}: the body must be a JSON object`);
  }
  return body as Record<string, unknown>;
}

function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify(
    JSON.stringify({ module: 'feast.errors', class: ERROR_HTTP[code].feastClass, message: `${code}: ${message}` }),
  );
}

function send(response: ServerResponse, status: number, text: string): void {
  if (response.headersSent) return;
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Reads a JSON body of at most `maxBytes` (413 beyond, without reading the rest). */
function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    const tooLarge = (): TesseraError => new BodyTooLargeError(maxBytes);
    if (declared > maxBytes) {
      request.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.destroy();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new TesseraError('INVALID_ARGUMENT', `the body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}
