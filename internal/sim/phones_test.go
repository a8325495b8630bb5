package sim

import (
	"github.com/adwatch/adwatch/extractor/phone"
	"strings"
	"testing"
)

// Every phone the simulator writes, in any of its forms, must be found
// again, and nothing else.
func TestPhonesRecoverable(t *testing.T) {
	w, _ := Generate(1, "alameda")
	e := phone.New("US")
	bad := 0
	for _, a := range w.Ads {
		got := e.Numbers(a.PhoneField + "\n" + a.Title + "\n" + a.Body)
		if strings.Join(got, ",") != strings.Join(a.Phones, ",") {
			bad++
			if bad < 10 {
				t.Errorf("%q / %q: got %v want %v", a.PhoneField, a.Body, got, a.Phones)
			}
		}
	}
}
