package phone

import (
	"net"
	"net/url"
	"strings"
)

// FindURL returns the phone numbers in a URL: the ad page's own address or
// a link in it. Review sites and directories put the number in the path
// (/ad/queens/646-302-4471/2/338120), in a title slug
// (...-call-07700900461-soho/40211877), in the host name
// (626-310-5582.example.com) or in a query parameter (?phone=...); tel:,
// sms: and WhatsApp links (wa.me/447700900461) carry one outright.
// Numbers without a country code are read in region ("" for the
// Extractor's). Each piece of the URL is read on its own, so an id in the
// next path segment does not join a number; a segment of bare digits with no
// separator is an id unless it is written as a phone is abroad, with a
// national or international prefix (07700900461), or follows a segment
// named for a phone (/phone/6465550100). Start and End are 0: a
// URL's numbers have no place in the ad's text.
func (e *Extractor) FindURL(rawURL, region string) []Match {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		return nil
	}
	var out []Match
	seen := map[string]bool{}
	add := func(ms []Match) {
		for _, m := range ms {
			if !seen[m.E164] {
				seen[m.E164] = true
				m.Start, m.End = 0, 0
				out = append(out, m)
			}
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not a URL: read it as text, unescaped where it can be.
		if s, err := url.PathUnescape(rawURL); err == nil {
			rawURL = s
		}
		add(e.FindIn(rawURL, region))
		return out
	}
	switch strings.ToLower(u.Scheme) {
	case "tel", "sms", "callto", "facetime":
		// The whole opaque part is a number: "tel:+1-510-873-0123".
		num := u.Opaque
		if num == "" {
			num = strings.TrimPrefix(u.Path, "//")
		}
		num, _, _ = strings.Cut(num, ";")
		num, _, _ = strings.Cut(num, "?")
		if s, err := url.PathUnescape(num); err == nil {
			num = s
		}
		add(e.FindIn(num, region))
		return out
	case "whatsapp":
		add(e.intlPiece(u.Query().Get("phone"), region))
		return out
	}
	host := strings.ToLower(u.Hostname())
	path := u.EscapedPath()
	// WhatsApp links carry an international number without its '+'.
	if host == "wa.me" || host == "api.whatsapp.com" || host == "web.whatsapp.com" {
		first := strings.Trim(path, "/")
		first, _, _ = strings.Cut(first, "/")
		add(e.intlPiece(first, region))
		add(e.intlPiece(u.Query().Get("phone"), region))
		return out
	}
	if host != "" && net.ParseIP(host) == nil {
		// 626-310-5582.example.com: the labels before the domain.
		labels := strings.Split(host, ".")
		if len(labels) > 2 {
			labels = labels[:len(labels)-2]
		} else {
			labels = labels[:len(labels)-1]
		}
		for _, l := range labels {
			add(e.FindIn(l, region))
		}
	}
	prev := ""
	for _, s := range strings.Split(path, "/") {
		s, err := url.PathUnescape(s)
		if err != nil {
			continue
		}
		if phoneKey(prev) && allASCIIDigits(s) {
			// /phone/6465550100: a segment named for a phone.
			add(e.FindIn(s, region))
		} else {
			add(e.urlPiece(s, region))
		}
		prev = s
	}
	for key, vals := range u.Query() {
		for _, v := range vals {
			if phoneKey(key) {
				ms := e.FindIn(v, region)
				if len(ms) == 0 {
					ms = e.intlPiece(v, region)
				}
				add(ms)
			} else {
				add(e.urlPiece(v, region))
			}
		}
	}
	if u.Fragment != "" {
		add(e.urlPiece(u.Fragment, region))
	}
	return out
}

// urlPiece reads one path segment, query value or fragment: a slug whose
// words are separated by '-', '_' or '+', maybe with a file extension. A
// piece of bare digits is an id, unless written with a national or
// international prefix.
func (e *Extractor) urlPiece(s, region string) []Match {
	if i := strings.LastIndexByte(s, '.'); i > 0 && i >= len(s)-6 {
		switch strings.ToLower(s[i+1:]) {
		case "html", "htm", "php", "asp", "aspx", "jsp", "cfm", "shtml", "jpg", "jpeg", "png", "gif", "webp":
			s = s[:i]
		}
	}
	if s == "" {
		return nil
	}
	if allASCIIDigits(s) && s[0] != '0' {
		return nil
	}
	return e.FindIn(s, region)
}

// intlPiece reads digits written as an international number without its
// '+' (wa.me/447700900461), or failing that as a national number.
func (e *Extractor) intlPiece(s, region string) []Match {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "00") {
		if ms := e.FindIn("+"+s, region); len(ms) > 0 {
			return ms
		}
	}
	return e.FindIn(s, region)
}

// phoneKey reports query parameters named for a phone number.
func phoneKey(k string) bool {
	switch strings.ToLower(k) {
	case "phone", "phones", "tel", "telephone", "mobile", "cell", "number", "num", "ph", "phonenumber", "phone_number", "whatsapp", "wa", "contact", "call":
		return true
	}
	return false
}
