package rtproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Announce writes "<addr> <pid>\n" to path, atomically (a temporary file
// renamed over it), for the layer's exec wrapper: the wrapper points the
// runtime at addr only while the file exists and pid is alive. The returned
// function removes the file; call it before the proxy stops serving.
func Announce(path, addr string, pid int) (remove func(), err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".lambdascope-runtime-api-*")
	if err != nil {
		return nil, fmt.Errorf("announce the runtime API proxy: %w", err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(addr + " " + strconv.Itoa(pid) + "\n")
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("announce the runtime API proxy: %w", werr)
	}
	return func() { _ = os.Remove(path) }, nil
}
