package sim

import (
	"strings"
	"testing"

	"github.com/adwatch/adwatch/extractor/handle"
	"github.com/adwatch/adwatch/extractor/phone"
)

// Every phone and handle the simulator writes, in any of its forms, must
// be found again, and nothing else.
func TestPhonesAndHandlesRecoverable(t *testing.T) {
	w, err := Generate(1, "alameda")
	if err != nil {
		t.Fatal(err)
	}
	e := phone.New("US")
	bad, foreign, handles := 0, 0, 0
	for _, a := range w.Ads {
		text := a.PhoneField + "\n" + a.Title + "\n" + a.Body
		got := e.NumbersIn(text, Country(a.City))
		if strings.Join(got, ",") != strings.Join(a.Phones, ",") {
			bad++
			if bad < 10 {
				t.Errorf("phones of %q / %q: got %v want %v", a.PhoneField, a.Body, got, a.Phones)
			}
		}
		if !strings.HasPrefix(a.Phones[0], "+1") {
			foreign++
		}
		if h := handle.Find(text); strings.Join(h, ",") != strings.Join(a.Handles, ",") {
			t.Errorf("handles of %q: got %v want %v", a.Body, h, a.Handles)
		}
		handles += len(a.Handles)
	}
	if foreign == 0 || handles == 0 {
		t.Errorf("%d ads with foreign numbers and %d with handles: the world should have some", foreign, handles)
	}
}
