package rtproxy

import "syscall"

// SetSpliceFault makes splice calls into a pipe (out false) or out of
// one (out true) fail with the errno f returns, when not 0; restore
// undoes it and lets bodies be spliced again.
func SetSpliceFault(f func(out bool) syscall.Errno) (restore func()) {
	spliceFault = f
	return func() {
		spliceFault = nil
		spliceOff.Store(false)
	}
}
