package bus

import "testing"

// TestKeyToken pins the encoding: alert keys already stored
// (rule + "." + KeyToken(entity)) must keep their names.
func TestKeyToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Plain-word_09", "Plain-word_09"},
		{"phone:+15105550123", "phone=3a=2b15105550123"},
		{"city:San Francisco@2020-10-02", "city=3aSan=20Francisco=402020-10-02"},
		{"ad:simclassifieds:42", "ad=3asimclassifieds=3a42"},
		{"a.b=c/d", "a=2eb=3dc=2fd"},
		{"José ✓", "Jos=e9=20=2713"},
	} {
		if got := KeyToken(tc.in); got != tc.want {
			t.Errorf("KeyToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if KeyToken("a=3ab") == KeyToken("a:b") {
		t.Error("KeyToken is not one-to-one")
	}
}
