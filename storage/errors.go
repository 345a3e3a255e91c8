package storage

import (
	"errors"
	"fmt"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// How a write failed, for the caller to decide whether to retry. Every
// error WriteExports returns matches exactly one of these with errors.Is,
// as OpenTelemetry's consumererror marks errors permanent or not; the
// exception codes behind them are known only here.
var (
	// ErrUnavailable: ClickHouse could not be reached, or the write ended
	// before the block was sent (connection refused or lost, deadline).
	// Nothing was stored by the failing insert; retry the same rows.
	ErrUnavailable = errors.New("ClickHouse unavailable")
	// ErrRefusedRetryable: ClickHouse refused the insert for a reason a
	// later retry may cure (memory limit, too many parts, replicas or
	// ZooKeeper unavailable, a table missing until migration), or for a
	// reason not known to be permanent.
	ErrRefusedRetryable = errors.New("ClickHouse refused the insert for now")
	// ErrRefusedPermanent: ClickHouse refused the insert, or the rows could
	// not be encoded, for what the rows hold or how they are shaped (type
	// mismatch, a value too large, a syntax error, a throwIf): the same
	// rows will be refused again.
	ErrRefusedPermanent = errors.New("ClickHouse refused the insert for its content")
)

// ErrOutcomeUnknown (writer.go) is the fourth outcome: the block was sent
// and no answer came back.

// WriteError is a failed write with its classification: Kind is one of
// ErrUnavailable, ErrRefusedRetryable, ErrRefusedPermanent and
// ErrOutcomeUnknown, Code the ClickHouse exception code when the server
// answered with one.
type WriteError struct {
	Kind error
	Code int32
	Err  error
}

func (e *WriteError) Error() string { return e.Err.Error() }

func (e *WriteError) Unwrap() []error { return []error{e.Err, e.Kind} }

// Refused reports whether ClickHouse answered and refused the rows, as
// opposed to not being reached or not answering.
func (e *WriteError) Refused() bool {
	return e.Kind == ErrRefusedRetryable || e.Kind == ErrRefusedPermanent
}

// errEncode marks rows the client could not encode for the server's
// columns (a column of another type, a value the driver refuses).
var errEncode = errors.New("encode rows")

// permanentCodes are the ClickHouse exception codes that refuse an insert
// for its rows or its shape: retrying the same rows gets the same answer.
var permanentCodes = map[int32]bool{
	6:   true, // CANNOT_PARSE_TEXT
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	20:  true, // NUMBER_OF_COLUMNS_DOESNT_MATCH
	26:  true, // CANNOT_PARSE_QUOTED_STRING
	27:  true, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
	36:  true, // BAD_ARGUMENTS
	38:  true, // CANNOT_PARSE_DATE
	41:  true, // CANNOT_PARSE_DATETIME
	43:  true, // ILLEGAL_TYPE_OF_ARGUMENT
	44:  true, // ILLEGAL_COLUMN
	53:  true, // TYPE_MISMATCH
	62:  true, // SYNTAX_ERROR
	69:  true, // ARGUMENT_OUT_OF_BOUND
	70:  true, // CANNOT_CONVERT_TYPE
	72:  true, // CANNOT_PARSE_NUMBER
	117: true, // INCORRECT_DATA
	128: true, // TOO_LARGE_ARRAY_SIZE
	131: true, // TOO_LARGE_STRING_SIZE
	190: true, // SIZES_OF_ARRAYS_DOESNT_MATCH
	395: true, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
}

// outcomeUnknownCodes are exception codes that say the insert may have been
// stored.
var outcomeUnknownCodes = map[int32]bool{
	319: true, // UNKNOWN_STATUS_OF_INSERT
}

// classify wraps a write's error with its kind; nil stays nil, and an
// error already classified is returned as is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var we *WriteError
	if errors.As(err, &we) {
		return err
	}
	we = &WriteError{Err: err}
	code, hasCode := exceptionCode(err)
	switch {
	case hasCode && outcomeUnknownCodes[code]:
		we.Kind, we.Code = ErrOutcomeUnknown, code
	case hasCode && permanentCodes[code]:
		we.Kind, we.Code = ErrRefusedPermanent, code
	case hasCode:
		we.Kind, we.Code = ErrRefusedRetryable, code
	case errors.Is(err, ErrOutcomeUnknown):
		we.Kind = ErrOutcomeUnknown
	case errors.Is(err, errEncode):
		we.Kind = ErrRefusedPermanent
	default:
		we.Kind = ErrUnavailable
	}
	return we
}

// encodeError marks an error of encoding rows for the server's columns.
func encodeError(table string, err error) error {
	return fmt.Errorf("encode rows for %s (%w): %w", table, errEncode, err)
}

// ClickHouse exception codes that readers tell apart.
const (
	codeUnknownTable         int32 = 60  // UNKNOWN_TABLE
	codeUnknownDatabase      int32 = 81  // UNKNOWN_DATABASE
	codeUnknownUser          int32 = 192 // UNKNOWN_USER
	codeWrongPassword        int32 = 193 // WRONG_PASSWORD
	codeRequiredPassword     int32 = 194 // REQUIRED_PASSWORD
	codeIPAddressNotAllowed  int32 = 195 // IP_ADDRESS_NOT_ALLOWED
	codeAuthenticationFailed int32 = 516 // AUTHENTICATION_FAILED
)

// exceptionCode is the code of the ClickHouse exception in err's chain,
// from either driver.
func exceptionCode(err error) (int32, bool) {
	if exc, ok := ch.AsException(err); ok {
		return int32(exc.Code), true
	}
	if exc, ok := errors.AsType[*clickhouse.Exception](err); ok {
		return exc.Code, true
	}
	return 0, false
}

// IsServerError reports whether ClickHouse answered with an exception, as
// opposed to not being reached or not answering.
func IsServerError(err error) bool {
	_, ok := exceptionCode(err)
	return ok
}

// IsUnknownTable reports whether ClickHouse does not know a table the
// statement names: the schema is not (or not yet) in the database.
func IsUnknownTable(err error) bool {
	code, ok := exceptionCode(err)
	return ok && code == codeUnknownTable
}

// IsUnknownDatabase reports whether ClickHouse does not know the database.
func IsUnknownDatabase(err error) bool {
	code, ok := exceptionCode(err)
	return ok && code == codeUnknownDatabase
}

// IsAuthRefused reports whether ClickHouse refused the credentials: an
// unknown user, a wrong or missing password, an address the user may not
// connect from.
func IsAuthRefused(err error) bool {
	code, ok := exceptionCode(err)
	if !ok {
		return false
	}
	switch code {
	case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeIPAddressNotAllowed, codeAuthenticationFailed:
		return true
	}
	return false
}
