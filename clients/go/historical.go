package tessera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

// EntityRows are the rows a training set asks about: join key columns and the moment each row asks
// about, all of the same length, plus optional columns (labels) passed through unchanged.
type EntityRows struct {
	Keys        map[string]Column
	EventTimes  []time.Time
	Passthrough map[string]Column
}

// Historical is a training set: Arrow record batches in the order of the entity rows, each with the
// input columns (join keys, `event_ts`, passthrough) then one column per feature named
// `<view>__<feature>`; a value with nothing at or before its row's time (or older than the view's
// TTL) is null. Release it when done.
type Historical struct {
	Records []arrow.RecordBatch
}

// Rows is the number of rows over all records.
func (h *Historical) Rows() int64 {
	var n int64
	for _, r := range h.Records {
		n += r.NumRows()
	}
	return n
}

// Release releases the records' memory.
func (h *Historical) Release() {
	for _, r := range h.Records {
		r.Release()
	}
	h.Records = nil
}

// GetHistoricalFeatures builds a point-in-time correct training set for rows: for each row, the
// values of refs as they were at the row's event time (ASOF), streamed in chunks and decoded from
// Arrow IPC. A stream that fails before its first chunk is retried on UNAVAILABLE; one that fails
// later returns the error, never a short training set.
func (c *Client) GetHistoricalFeatures(ctx context.Context, rows EntityRows, refs []string) (*Historical, error) {
	request := &tesserapb.GetHistoricalRequest{
		Entities: &tesserapb.GetHistoricalRequest_Rows{Rows: entityRowsToProto(rows)},
		Features: refs,
		Format:   tesserapb.HistoricalFormat_HISTORICAL_FORMAT_ARROW,
	}
	ctx, cancel := c.withDefaultTimeout(ctx)
	defer cancel()
	out := &Historical{}
	err := retry(ctx, c.retry, func() (metadata.MD, error) {
		out.Release()
		stream, err := c.store.GetHistorical(ctx, request)
		if err != nil {
			return nil, err
		}
		return readHistorical(stream, out)
	})
	if err != nil {
		out.Release()
		return nil, err
	}
	return out, nil
}

// readHistorical decodes every chunk (each a whole Arrow IPC stream) into out.
func readHistorical(stream grpc.ServerStreamingClient[tesserapb.GetHistoricalResponse], out *Historical) (metadata.MD, error) {
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			if len(out.Records) > 0 {
				// Chunks already arrived: a retry could not resume, so this is final.
				return stream.Trailer(), noRetry{err}
			}
			return stream.Trailer(), err
		}
		reader, err := ipc.NewReader(bytes.NewReader(chunk.GetArrowIpc()))
		if err != nil {
			return nil, fmt.Errorf("tessera: GetHistorical chunk at row %d: %w", chunk.GetFirstRow(), err)
		}
		for reader.Next() {
			record := reader.RecordBatch()
			record.Retain()
			out.Records = append(out.Records, record)
		}
		readErr := reader.Err()
		reader.Release()
		if readErr != nil {
			return nil, fmt.Errorf("tessera: GetHistorical chunk at row %d: %w", chunk.GetFirstRow(), readErr)
		}
	}
}

func entityRowsToProto(rows EntityRows) *tesserapb.EntityRows {
	out := &tesserapb.EntityRows{
		Keys:            make(map[string]*tesserapb.Column, len(rows.Keys)),
		EventTimestamps: make([]int64, len(rows.EventTimes)),
		Passthrough:     make(map[string]*tesserapb.Column, len(rows.Passthrough)),
	}
	for name, column := range rows.Keys {
		out.Keys[name] = column.toProto()
	}
	for i, t := range rows.EventTimes {
		out.EventTimestamps[i] = t.UnixMilli()
	}
	for name, column := range rows.Passthrough {
		out.Passthrough[name] = column.toProto()
	}
	return out
}
