// Package tessera is a Go client of the Tessera feature store: latest feature values for inference
// (GetOnlineFeatures), point-in-time correct training sets as Arrow records (GetHistoricalFeatures),
// and columnar writes with idempotency keys (Write), over the tessera.v1 gRPC API.
//
// The stubs in tesserapb are generated from the repository's proto/ folder and not committed: run
// `go generate ./...` in clients/go first (it needs Node.js and `pnpm install` at the repository
// root; see README.md).
package tessera

//go:generate node ../../scripts/go-proto-gen.mjs
