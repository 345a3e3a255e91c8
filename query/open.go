package query

import (
	"context"
	"errors"

	"github.com/lambdascope/lambdascope/storage"
)

// Open connects to the storage cfg names, for reading. The Service owns
// the connection: Close closes it.
func Open(ctx context.Context, cfg storage.Config) (*Service, error) {
	st, err := storage.OpenConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := NewService(st)
	s.owned = st
	return s, nil
}

// Close closes the connection Open made; a Service made with NewService
// leaves its store to its owner.
func (s *Service) Close() error {
	if s.owned == nil {
		return nil
	}
	return s.owned.Close()
}

// Pickers lists values for the query editor's pickers from the Service's
// store, when it serves them (a *storage.Store does), else nil.
func (s *Service) Pickers() *Pickers {
	if p, ok := s.store.(PickerStore); ok {
		return NewPickers(p)
	}
	return nil
}

// SchemaState is what a health check tells of the database: the server's
// version, the schema version the database holds (0: none) and the one
// this build reads.
type SchemaState struct {
	Server     string
	Have, Want uint32
}

// schemaStore is the part of storage that knows the schema.
type schemaStore interface {
	SchemaVersion(ctx context.Context) (uint32, error)
	Capabilities() storage.Capabilities
}

var _ schemaStore = (*storage.Store)(nil)

// errNoSchemaStore reports a store that cannot say which schema it holds.
var errNoSchemaStore = errors.New("the store does not report its schema")

// Schema reads which schema the database holds.
func (s *Service) Schema(ctx context.Context) (SchemaState, error) {
	st, ok := s.store.(schemaStore)
	if !ok {
		return SchemaState{}, errNoSchemaStore
	}
	have, err := st.SchemaVersion(ctx)
	if err != nil {
		return SchemaState{}, err // storage says what it read
	}
	return SchemaState{Server: st.Capabilities().Version.String(), Have: have, Want: storage.LatestVersion()}, nil
}
