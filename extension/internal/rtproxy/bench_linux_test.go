package rtproxy_test

import (
	"syscall"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// disableSplice makes the proxy of this process copy every body, as
// where the kernel refuses splice(2): the first splice is refused, and
// none is tried after it.
func disableSplice() {
	rtproxy.SetSpliceFault(func(bool) syscall.Errno { return syscall.EINVAL })
}
