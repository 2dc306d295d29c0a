package tessera

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

// Status of one feature value of one entity.
type Status int

const (
	// Present: the value is the latest one written, within the view's TTL.
	Present Status = iota + 1
	// NotFound: nothing was ever written for the entity in this view (the value is null).
	NotFound
	// Expired: the latest value is older than the view's TTL (the value is null).
	Expired
)

func (s Status) String() string {
	switch s {
	case Present:
		return "PRESENT"
	case NotFound:
		return "NOT_FOUND"
	case Expired:
		return "EXPIRED"
	default:
		return fmt.Sprintf("Status(%d)", int(s))
	}
}

// Feature is one requested feature for every entity of a GetOnlineFeatures call, row i being entity i.
type Feature struct {
	// Ref is the resolved ref, `view@version:feature`.
	Ref string
	// Values holds one row per entity; rows that are not Present are null. Its concrete type follows
	// the feature's type: *Values[float64] for a double, and so on (see ColumnOf).
	Values Column
	// Statuses holds one status per entity.
	Statuses []Status
	// EventTimes holds each value's stored event time (also when Expired; zero when NotFound); only
	// with WithEventTimes.
	EventTimes []time.Time
}

// OnlineFeatures is the answer of GetOnlineFeatures: one Feature per resolved ref, in request order.
type OnlineFeatures struct {
	Features []Feature
}

// Feature finds a feature by ref: resolved (`stats@1:score`) or as requested (`stats:score`), the
// first match; nil when none matches.
func (o *OnlineFeatures) Feature(ref string) *Feature {
	for i := range o.Features {
		f := &o.Features[i]
		if f.Ref == ref || unversioned(f.Ref) == ref {
			return f
		}
	}
	return nil
}

func unversioned(ref string) string {
	view, feature, ok := strings.Cut(ref, ":")
	if !ok {
		return ref
	}
	name, _, _ := strings.Cut(view, "@")
	return name + ":" + feature
}

// ReadOption configures GetOnlineFeatures.
type ReadOption func(*tesserapb.GetOnlineFeaturesRequest)

// WithEventTimes asks for each value's event time.
func WithEventTimes() ReadOption {
	return func(r *tesserapb.GetOnlineFeaturesRequest) { r.IncludeEventTimestamps = true }
}

// WithFeatureService reads the features of a feature service (pass nil refs).
func WithFeatureService(name string) ReadOption {
	return func(r *tesserapb.GetOnlineFeaturesRequest) { r.FeatureService = name }
}

// GetOnlineFeatures reads the latest values of refs (`view:feature`, `view:*`, `view@2:feature`)
// for a batch of entities: one column per join key, every column of the same length.
func (c *Client) GetOnlineFeatures(ctx context.Context, refs []string, entities map[string]Column, opts ...ReadOption) (*OnlineFeatures, error) {
	ctx, cancel := c.withDefaultTimeout(ctx)
	defer cancel()
	request := &tesserapb.GetOnlineFeaturesRequest{Features: refs, Entities: make(map[string]*tesserapb.Column, len(entities))}
	for name, column := range entities {
		request.Entities[name] = column.toProto()
	}
	for _, opt := range opts {
		opt(request)
	}
	response, err := c.store.GetOnlineFeatures(ctx, request)
	if err != nil {
		return nil, err
	}
	out := &OnlineFeatures{Features: make([]Feature, 0, len(response.GetFeatures()))}
	for _, f := range response.GetFeatures() {
		values, err := fromProto(f.GetValues())
		if err != nil {
			return nil, fmt.Errorf("tessera: GetOnlineFeatures answer, feature %s: %w", f.GetRef(), err)
		}
		feature := Feature{Ref: f.GetRef(), Values: values, Statuses: make([]Status, len(f.GetStatuses()))}
		for i, s := range f.GetStatuses() {
			feature.Statuses[i] = Status(s)
		}
		if millis := f.GetEventTimestamps(); len(millis) > 0 {
			feature.EventTimes = make([]time.Time, len(millis))
			for i, m := range millis {
				// An Expired value keeps its stored event time (how old it is); NotFound has none.
				if s := feature.Statuses[i]; s == Present || s == Expired {
					feature.EventTimes[i] = time.UnixMilli(m).UTC()
				}
			}
		}
		out.Features = append(out.Features, feature)
	}
	return out, nil
}
