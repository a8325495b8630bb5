//go:build !amd64

package jpeg

// useAVX2 is false off amd64.
var useAVX2 = false

// reconstructFast does nothing off amd64: reconstructBlock's generic path
// runs.
func reconstructFast(b, qt *block, dst []byte, stride int) bool { return false }
