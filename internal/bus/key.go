package bus

import (
	"fmt"
	"strings"
)

// KeyRune reports whether r may stand for itself in a token of a subject
// or key-value key: an ASCII letter or digit, '-' or '_'. NATS also allows
// '=' and '/' in keys and '.' between tokens; KeyToken keeps '=' for its
// escapes.
func KeyRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// KeyToken encodes s as one token of a key-value key: the runes KeyRune
// allows are kept and every other one is written as '=' and its code
// point in hex ("phone:+1" is "phone=3a=2b1"). Distinct strings give
// distinct tokens, and a string of allowed runes is its own token.
func KeyToken(s string) string {
	var b strings.Builder
	for _, r := range s {
		if KeyRune(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "=%x", r)
		}
	}
	return b.String()
}
