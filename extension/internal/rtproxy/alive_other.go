//go:build !unix

package rtproxy

import "net"

// alive cannot look at the socket here: a connection closed while it was
// kept shows on its next call (retried once when it has no body).
func alive(net.Conn) bool { return true }

// readable cannot look at the socket here: an early answer of the
// platform is read once the body was sent.
func readable(net.Conn) bool { return false }
