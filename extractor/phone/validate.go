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
// "+44 (0) 7700 900461" is read without the national prefix written after
// the country code.
func parseInternational(d string) (*phonenumbers.PhoneNumber, bool) {
	num, err := phonenumbers.Parse("+"+d, "ZZ")
	if err == nil && phonenumbers.IsValidNumber(num) {
		return num, true
	}
	if strings.HasPrefix(d, "521") {
		num, err = phonenumbers.Parse("+52"+d[3:], "ZZ")
		if err == nil && phonenumbers.IsValidNumber(num) {
			return num, true
		}
	}
	if err == nil && fictional(num) {
		return num, true
	}
	for cc := 1; cc <= 3 && cc+1 < len(d); cc++ {
		if d[cc] != '0' {
			continue
		}
		code, _ := strconv.Atoi(d[:cc])
		if phonenumbers.GetNddPrefixForRegion(phonenumbers.GetRegionCodeForCountryCode(code), true) != "0" {
			continue
		}
		if num, err := phonenumbers.Parse("+"+d[:cc]+d[cc+1:], "ZZ"); err == nil && (phonenumbers.IsValidNumber(num) || fictional(num)) {
			return num, true
		}
	}
	return nil, false
}

// writtenWithNDD reports digits that begin with region's national prefix.
func writtenWithNDD(digits, region string) bool {
	ndd := phonenumbers.GetNddPrefixForRegion(region, true)
	return ndd != "" && strings.HasPrefix(digits, ndd)
}

func joinDigits(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.digits)
	}
	return b.String()
}

// nanp reports a region of the North American numbering plan (+1).
func nanp(region string) bool { return phonenumbers.IsNANPACountry(region) }

// valid validates a national number of the NANP (10 digits, or 11 with a
// leading 1).
func (e *Extractor) valid(digits, region string) (string, bool) {
	if region != "US" && region != "CA" {
		num, err := phonenumbers.Parse(digits, region)
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

// validNational validates digits as a national number of region (outside
// the NANP) and returns it in E.164; its answers are cached.
func (e *Extractor) validNational(digits, region string) (string, bool) {
	key := region + ":" + digits
	e.mu.Lock()
	e164, seen := e.natCache[key]
	e.mu.Unlock()
	if !seen {
		num, err := phonenumbers.Parse(digits, region)
		if err == nil && (phonenumbers.IsValidNumberForRegion(num, region) ||
			(int(num.GetCountryCode()) == phonenumbers.GetCountryCodeForRegion(region) && fictional(num))) {
			e164 = phonenumbers.Format(num, phonenumbers.E164)
		}
		e.mu.Lock()
		if len(e.natCache) >= maxCache {
			clear(e.natCache)
		}
		e.natCache[key] = e164
		e.mu.Unlock()
	}
	return e164, e164 != ""
}

// fictionalRanges are national number prefixes reserved for drama and
// examples, which libphonenumber calls invalid but anonymized ad data and
// test texts use in place of real numbers (Ofcom: 07700 900000-900999,
// 01632 960000-960999).
var fictionalRanges = map[int32][]string{44: {"7700900", "1632960"}}

func fictional(num *phonenumbers.PhoneNumber) bool {
	ranges := fictionalRanges[num.GetCountryCode()]
	if len(ranges) == 0 {
		return false
	}
	nn := strconv.FormatUint(num.GetNationalNumber(), 10)
	for _, r := range ranges {
		if strings.HasPrefix(nn, r) && len(nn) == 10 {
			return true
		}
	}
	return false
}

// maxCache bounds the validation caches.
const maxCache = 1 << 16

// validHome reports digits that read as a national number of home.
func (e *Extractor) validHome(digits, home string) bool {
	if nanp(home) {
		if len(digits) < 10 || len(digits) > 11 {
			return false
		}
		_, ok := e.valid(digits, home)
		return ok
	}
	_, ok := e.validNational(digits, home)
	return ok
}
