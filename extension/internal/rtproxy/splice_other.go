//go:build !linux

package rtproxy

// spliceBody is not possible here: bodies are read and written.
func spliceBody(dst bufWriter, tr tryReader, n int64, k keeper) (total int64, rerr, werr error, ok bool) {
	return 0, nil, nil, false
}
