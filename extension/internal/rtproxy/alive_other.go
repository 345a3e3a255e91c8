//go:build !unix

package rtproxy

import "net"

// peeker cannot look at the socket here.
type peeker struct{}

func newPeeker(net.Conn) *peeker { return &peeker{} }

// alive cannot look at the socket here: a connection closed while it was
// kept shows on its next call (retried once when it has no body).
func (*peeker) alive() bool { return true }

// isReadable cannot look at the socket here: an early answer of the
// platform is read once the body was sent.
func (*peeker) isReadable() bool { return false }
