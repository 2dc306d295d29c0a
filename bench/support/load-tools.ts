// The load generators the benchmarks build with `go install` (test/infra/go-tools.ts), pinned.

/** ghz, pinned: v0.120.0 builds with Go 1.26 in ~40 s. */
export const GHZ = { modulePath: 'github.com/bojand/ghz/cmd/ghz', version: 'v0.120.0', binName: 'ghz' } as const;
/** k6, pinned: v1.8.0 builds with Go 1.26 in ~90 s. */
export const K6 = { modulePath: 'go.k6.io/k6', version: 'v1.8.0', binName: 'k6' } as const;
