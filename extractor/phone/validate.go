package phone

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"
)

// international parses the run as +<country code><number>.
func (e *Extractor) international(run []token) (Match, int, bool) {
	digits := ""
	for j := range run {
		digits += run[j].digits
		d := strings.TrimPrefix(digits, "00")
		if len(d) < 8 || len(d) > 15 {
			continue
		}
		num, ok := parseInternational(d)
		if !ok {
			continue
		}
		// Take the longest valid reading.
		best := j
		for k := j + 1; k < len(run); k++ {
			d2 := strings.TrimPrefix(digits+joinDigits(run[j+1:k+1]), "00")
			if len(d2) > 15 {
				break
			}
			if n2, ok := parseInternational(d2); ok {
				num, best = n2, k
			}
		}
		return Match{
			E164:       phonenumbers.Format(num, phonenumbers.E164),
			Start:      run[0].start,
			End:        run[best].end,
			Obfuscated: obfuscated(run[:best+1]),
		}, best + 1, true
	}
	return Match{}, 0, false
}

// parseInternational reads digits after a '+' (or 00) as a valid number.
// Mexico's mobile "1" after the country code, dropped in 2019 and still
// written in ads, is read without it.
func parseInternational(d string) (*phonenumbers.PhoneNumber, bool) {
	num, err := phonenumbers.Parse("+"+d, "ZZ")
	if (err != nil || !phonenumbers.IsValidNumber(num)) && strings.HasPrefix(d, "521") {
		num, err = phonenumbers.Parse("+52"+d[3:], "ZZ")
	}
	return num, err == nil && phonenumbers.IsValidNumber(num)
}

func joinDigits(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.digits)
	}
	return b.String()
}

// valid validates a national number (10 digits, or 11 with a leading 1).
func (e *Extractor) valid(digits string) (string, bool) {
	if e.region != "US" && e.region != "CA" {
		num, err := phonenumbers.Parse(digits, e.region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			return "", false
		}
		return phonenumbers.Format(num, phonenumbers.E164), true
	}
	// North American numbering plan: NXX-NXX-XXXX, checked by hand before
	// the (slow) metadata check, whose answers are cached.
	d := digits
	if len(d) == 11 {
		if d[0] != '1' {
			return "", false
		}
		d = d[1:]
	}
	if len(d) != 10 || d[0] < '2' || d[3] < '2' || (d[1] == '1' && d[2] == '1') || (d[4] == '1' && d[5] == '1') {
		return "", false
	}
	e164 := "+1" + d
	e.mu.Lock()
	ok, seen := e.cache[d]
	e.mu.Unlock()
	if !seen {
		n, _ := strconv.ParseUint(d, 10, 64)
		ok = phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: proto.Int32(1), NationalNumber: proto.Uint64(n)})
		e.mu.Lock()
		if len(e.cache) >= maxCache {
			clear(e.cache)
		}
		e.cache[d] = ok
		e.mu.Unlock()
	}
	return e164, ok
}

// maxCache bounds the validation cache.
const maxCache = 1 << 16
