import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake server received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** How the fake answers one request. */
export type FakeResponder = (request: RecordedRequest, response: ServerResponse) => void;

/** A ClickHouse exception as the HTTP interface returns it: status 500, code header, text body. */
export function clickHouseException(code: number, name: string, text: string): FakeResponder {
  return (_request, response) => {
    response.writeHead(500, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(code),
    });
    response.end(`Code: ${code}. DB::Exception: ${text}. (${name}) (version 25.8.1.1 (official build))\n`);
  };
}

/** Success with a body, in chunks sent one event-loop turn apart. */
export function okChunks(...chunks: (string | Buffer)[]): FakeResponder {
  return (_request, response) => {
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'X-ClickHouse-Summary': '{"read_rows":"0"}',
    });
    const write = (index: number): void => {
      const chunk = chunks[index];
      if (chunk === undefined) {
        response.end();
        return;
      }
      response.write(chunk);
      setImmediate(() => write(index + 1));
    };
    write(0);
  };
}

/**
 * A fake ClickHouse HTTP interface on 127.0.0.1, port 0. It is a fake, not ClickHouse: no modern
 * ClickHouse server can be installed on these machines (Debian ships 18.16), so the HTTP executor
 * is tested at its boundary — the requests it sends and how it maps the answers — and the
 * behavioural suite runs against a real server only when CLICKHOUSE_URL is set.
 */
export class FakeClickHouseHttpServer implements AsyncDisposable {
  readonly requests: RecordedRequest[] = [];
  #responder: FakeResponder = okChunks();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<FakeClickHouseHttpServer> {
    const fake: FakeClickHouseHttpServer = new FakeClickHouseHttpServer(
      createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const recorded: RecordedRequest = {
            method: request.method ?? '',
            url: new URL(request.url ?? '/', 'http://127.0.0.1'),
            headers: request.headers,
            body: Buffer.concat(chunks),
          };
          fake.requests.push(recorded);
          fake.#responder(recorded, response);
        });
      }),
    );
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** `http://user:password@127.0.0.1:<port>`. */
  url(credentials = 'tessera:s3cret'): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://${credentials}@127.0.0.1:${port}`;
  }

  /** Answers every following request with `responder`. */
  respondWith(responder: FakeResponder): void {
    this.#responder = responder;
  }

  /** The last request received. */
  get last(): RecordedRequest {
    const request = this.requests.at(-1);
    if (request === undefined) throw new Error('the fake ClickHouse server received no request');
    return request;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
