// The load generators the benchmarks build with `go install` (`ensureTool` from `@tessera/testkit`), pinned.

/** ghz (gRPC, Apache-2.0), pinned: v0.120.0 builds with Go 1.26 in ~40 s. */
export const GHZ = { modulePath: 'github.com/bojand/ghz/cmd/ghz', version: 'v0.120.0', binName: 'ghz' } as const;
/** vegeta (HTTP, MIT), pinned: v12.13.0 builds with Go 1.26 in ~10 s. */
export const VEGETA = { modulePath: 'github.com/tsenart/vegeta/v12', version: 'v12.13.0', binName: 'vegeta' } as const;
