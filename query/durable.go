package query

import (
	"context"
	"fmt"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// DurableQuery selects the durable executions a durable cost report
// covers: those with invocations started in the range, the latest first.
type DurableQuery struct {
	TimeRange
	FunctionName string
	// Limit bounds the executions (default 100, at most 1,000).
	Limit int
}

// DurableExecutionCost is what one durable execution cost: its
// invocations, priced as TraceCost prices them, and its durable
// operations.
type DurableExecutionCost struct {
	TraceID      TraceID   `json:"traceId"`
	ExecutionARN string    `json:"executionArn"`
	AccountID    string    `json:"accountId,omitempty"`
	Region       string    `json:"region,omitempty"`
	FunctionName string    `json:"functionName"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	// Invocations and Replays count the invocations the extension saw
	// (from their inferred spans), Replays those that resumed it.
	Invocations uint64 `json:"invocations"`
	Replays     uint64 `json:"replays"`
	// Operations is the most checkpointed operations handed to one of its
	// invocations: a lower bound, since the operations of the last
	// invocation are checkpointed after it was handed its state.
	Operations      uint64  `json:"operations"`
	InvocationsCost float64 `json:"invocationsCost"`
	OperationsCost  float64 `json:"operationsCost"`
	// Total leaves out the data written and retained: the records do not
	// carry the state's size.
	Total float64 `json:"total"`
}

// DurableReport is the cost of the durable executions of a range.
type DurableReport struct {
	Currency   string                 `json:"currency"`
	Executions []DurableExecutionCost `json:"executions"`
	// Notes say what the figures price and what they leave out
	// (DurableNotes).
	Notes []string `json:"notes"`
}

// DurableNotes say what a durable cost report prices and what it does not:
// the invocation records carry neither the size of the state an execution
// checkpoints nor how long it is kept.
var DurableNotes = []string{
	"priced: each execution's invocations (requests, duration, storage at first-tier prices) and its durable operations, counted as the most checkpointed operations handed to one of its invocations (a lower bound)",
	"not priced: data written by durable operations (per GB) and state retained during and after the execution (per GB-month): the records do not carry the state's size",
}

// DurableCosts sums each durable execution's cost over its invocations,
// which the extension gives one trace, and prices its operations.
func (s *Service) DurableCosts(ctx context.Context, prices *Prices, q DurableQuery) (*DurableReport, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	execs, err := s.store.DurableExecutions(ctx, storage.DurableFilter{Since: q.Since, Until: q.Until, FunctionName: q.FunctionName, Limit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("read durable executions: %w", err)
	}
	rep := &DurableReport{Executions: make([]DurableExecutionCost, 0, len(execs)), Notes: DurableNotes}
	if def, _ := prices.For(""); def != nil {
		rep.Currency = def.Currency
	}
	if len(execs) == 0 {
		return rep, nil
	}
	ids := make([]TraceID, len(execs))
	for i, e := range execs {
		ids[i] = TraceID(e.TraceID)
	}
	costs, err := s.TraceCosts(ctx, prices, ids, q.TimeRange)
	if err != nil {
		return nil, err
	}
	for i, e := range execs {
		t, _ := prices.For(e.Region)
		c := DurableExecutionCost{TraceID: ids[i], ExecutionARN: e.ExecutionARN, AccountID: e.AccountID, Region: e.Region,
			FunctionName: e.FunctionName, Start: e.Start, End: e.End, Invocations: e.Invocations, Replays: e.Replays,
			Operations: e.Operations, InvocationsCost: costs[i].Total, OperationsCost: t.Durable.DurableCharge(e.Operations, 0, 0)}
		c.Total = c.InvocationsCost + c.OperationsCost
		rep.Executions = append(rep.Executions, c)
	}
	return rep, nil
}
