package tessera

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

// EventTimeColumn is the column of a Write that holds each row's event time (a Times column, or
// RFC 3339 Strings), as in the files `tessera write` reads.
const EventTimeColumn = "event_ts"

// Target is where a Write goes.
type Target = tesserapb.WriteTarget

// Write targets.
const (
	OnlineAndOffline = tesserapb.WriteTarget_WRITE_TARGET_ONLINE_AND_OFFLINE
	OnlineOnly       = tesserapb.WriteTarget_WRITE_TARGET_ONLINE
	OfflineOnly      = tesserapb.WriteTarget_WRITE_TARGET_OFFLINE
)

// Durability is when a Write is acknowledged.
type Durability = tesserapb.Durability

// Durabilities.
const (
	// WriteBehind: the offline copy is queued (the default).
	WriteBehind = tesserapb.Durability_DURABILITY_WRITE_BEHIND
	// Sync: the offline copy is written before the answer (a training set sees it at once).
	Sync = tesserapb.Durability_DURABILITY_SYNC
	// Replicated: the online write reached a Redis replica before the answer.
	Replicated = tesserapb.Durability_DURABILITY_REPLICATED
)

// WriteOptions are the options of Write; the zero value writes online and offline, write-behind,
// with a fresh idempotency key.
type WriteOptions struct {
	Target     Target
	Durability Durability
	// IdempotencyKey: the same key within the server's retention window returns the first result and
	// writes nothing again. Empty: a random key per Write call, so the client's own retries are safe.
	// Set it to retry a whole Write safely across calls (or processes).
	IdempotencyKey string
}

// WriteResult counts the rows of a Write.
type WriteResult struct {
	// Rows accepted.
	Rows uint64
	// Rows that replaced the stored online row (not older than it).
	AppliedOnline uint64
	// Rows ignored online because a newer event was already stored (last-writer-wins by event time).
	StaleOnline uint64
	// Events of an event view too late (allowed_lateness) or too far ahead (future_tolerance) to count
	// in aggregations; they still update the plain features.
	ExcludedLate   uint64
	ExcludedFuture uint64
	// Events already counted (the same content): they change no aggregate.
	DuplicateEvents uint64
}

// Write writes one batch of rows to a feature view (`view` or `view@version`): join keys, features
// and EventTimeColumn, one column each, all of the same length. The server validates the whole batch
// first: a bad batch fails with INVALID_ARGUMENT naming the row, column and rule, and nothing is written.
func (c *Client) Write(ctx context.Context, view string, columns map[string]Column, opts *WriteOptions) (WriteResult, error) {
	if opts == nil {
		opts = &WriteOptions{}
	}
	eventTimes, ok := columns[EventTimeColumn]
	if !ok {
		return WriteResult{}, errors.New("tessera: Write needs an " + EventTimeColumn + " column (the event time of each row)")
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	request := &tesserapb.WriteRequest{
		FeatureView:     view,
		Columns:         make(map[string]*tesserapb.Column, len(columns)-1),
		EventTimestamps: eventTimes.toProto(),
		Target:          opts.Target,
		Durability:      opts.Durability,
		IdempotencyKey:  key,
	}
	for name, column := range columns {
		if name != EventTimeColumn {
			request.Columns[name] = column.toProto()
		}
	}
	ctx, cancel := c.withDefaultTimeout(ctx)
	defer cancel()
	response, err := c.store.Write(ctx, request)
	if err != nil {
		return WriteResult{}, err
	}
	return WriteResult{
		Rows:            response.GetRows(),
		AppliedOnline:   response.GetRowsAppliedOnline(),
		StaleOnline:     response.GetRowsStaleOnline(),
		ExcludedLate:    response.GetRowsExcludedLate(),
		ExcludedFuture:  response.GetRowsExcludedFuture(),
		DuplicateEvents: response.GetRowsDuplicateEvents(),
	}, nil
}

func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "go-" + hex.EncodeToString(b)
}
