// Package handle finds the identifiers besides phones that link ads:
// emails, social and messaging handles written with their platform
// (Instagram, Snapchat, Telegram, WhatsApp, Kik, OnlyFans, Twitter/X),
// payment handles (Cash App $cashtags, Venmo @names) and website domains.
// Each is normalized ("instagram:rosa.b", "cashapp:$rosab",
// "email:rosa@example.com", "domain:rosa.example") so that equal handles
// compare equal.
package handle

import (
	"regexp"
	"strings"
)

var platforms = map[string]string{
	"instagram": "instagram", "insta": "instagram", "ig": "instagram",
	"snapchat": "snapchat", "snap": "snapchat", "sc": "snapchat",
	"telegram": "telegram", "tg": "telegram", "tele": "telegram",
	"whatsapp": "whatsapp", "wa": "whatsapp", "wapp": "whatsapp",
	"kik": "kik", "onlyfans": "onlyfans", "of": "onlyfans",
	"twitter": "twitter", "x": "twitter",
	"venmo": "venmo", "cashapp": "cashapp", "cash app": "cashapp", "cash": "cashapp",
}

var (
	email = regexp.MustCompile(`\b[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}\b`)
	// Obfuscated emails: "rosa at gmail dot com", "rosa (at) gmail (dot) com".
	emailWords = regexp.MustCompile(`\b([a-z0-9][a-z0-9._-]{1,63})\s*[\[(]?\s*at\s*[\])]?\s*([a-z0-9-]{2,30})\s*[\[(]?\s*dot\s*[\])]?\s*(com|net|org|me|io|co)\b`)
	// "IG: rosa.b", "snap - rosab", "Telegram @rosab", "kik=rosab".
	labelled   = regexp.MustCompile(`\b(instagram|insta|ig|snapchat|snap|sc|telegram|tele|tg|whatsapp|wapp|wa|kik|onlyfans|of|twitter|x|venmo|cash ?app)\b\s*(?:me\s*)?(?:[:=\-~>|]+|\bat\b|\bis\b)?\s*(?:@\s*)?([a-z0-9][a-z0-9._-]{1,29})`)
	profileURL = regexp.MustCompile(`\b(?:https?://)?(?:www\.)?(instagram\.com|t\.me|onlyfans\.com|twitter\.com|x\.com|snapchat\.com/add|kik\.me|venmo\.com|cash\.app)/[@$]?([a-z0-9][a-z0-9._]{1,29})`)
	cashtag    = regexp.MustCompile(`(?:^|[\s(:,])\$([a-z][a-z0-9_]{1,19})\b`)
	domain     = regexp.MustCompile(`\b((?:[a-z0-9-]+\.)+(?:com|net|org|me|io|co|xxx|club|site|online|info|biz|us))\b`)
)

// Words that follow a platform label but are not handles.
var notHandle = map[string]bool{"me": true, "only": true, "and": true, "or": true, "the": true, "for": true, "is": true,
	"available": true, "please": true, "too": true, "to": true, "my": true, "no": true, "not": true, "ok": true, "only.": true,
	"call": true, "text": true, "calls": true, "texts": true, "here": true, "with": true, "in": true, "on": true, "at": true,
	"accepted": true, "friendly": true, "preferred": true}

// Find returns the normalized identifiers in text, each once, in order.
func Find(text string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	lower := strings.ToLower(strings.ToValidUTF8(text, " "))
	// Cheap checks first: most ads carry no handle at all.
	var emailSpans [][]int
	if strings.Contains(lower, "@") {
		emailSpans = email.FindAllStringIndex(lower, -1)
	}
	for _, sp := range emailSpans {
		add("email:" + strings.Trim(lower[sp[0]:sp[1]], "."))
	}
	for _, m := range findIf(strings.Contains(lower, "dot"), emailWords, lower) {
		if m[1] != "me" && m[1] != "text" && m[1] != "call" {
			add("email:" + m[1] + "@" + m[2] + "." + m[3])
		}
	}
	inEmail := func(i int) bool {
		for _, sp := range emailSpans {
			if i >= sp[0] && i < sp[1] {
				return true
			}
		}
		return false
	}
	var urlSpans [][]int
	if strings.Contains(lower, "/") {
		urlSpans = profileURL.FindAllStringSubmatchIndex(lower, -1)
	}
	for _, m := range urlSpans {
		site, name := lower[m[2]:m[3]], strings.TrimRight(lower[m[4]:m[5]], ".")
		p := map[string]string{"instagram.com": "instagram", "t.me": "telegram", "onlyfans.com": "onlyfans", "twitter.com": "twitter",
			"x.com": "twitter", "snapchat.com/add": "snapchat", "kik.me": "kik", "venmo.com": "venmo", "cash.app": "cashapp"}[site]
		if p == "cashapp" {
			name = "$" + name
		}
		add(normalize(p, name))
	}
	var labels [][]int
	if mentionsPlatform(lower) {
		labels = labelled.FindAllStringSubmatchIndex(lower, -1)
	}
	for _, m := range labels {
		if inEmail(m[4]) {
			continue
		}
		label := strings.Join(strings.Fields(lower[m[2]:m[3]]), " ")
		p := platforms[label]
		// Underscores belong to names ("rosa.bella_" is another account);
		// hyphens only to Venmo's; a final dot ends a sentence.
		name := lower[m[4]:m[5]]
		if p != "venmo" {
			name, _, _ = strings.Cut(name, "-")
		}
		name = strings.TrimRight(name, ".-")
		if p == "" || notHandle[name] || len(name) < 2 || allDigits(name) && p != "whatsapp" {
			continue
		}
		// One-letter and two-letter labels ("x", "of", "sc", "wa") need an
		// explicit separator or @, or they are ordinary words.
		// Short labels ("x", "of", "sc", "wa") need a separator, an @ or
		// capitals ("IG rosab"), or they are ordinary words.
		if len(label) <= 2 && !strings.ContainsAny(lower[m[3]:m[4]], ":=-~>|@") &&
			(len(label) == 1 || !isUpper(text, m[2], m[3])) {
			continue
		}
		if p == "whatsapp" {
			continue // WhatsApp handles are phone numbers: the phone extractor finds them.
		}
		if p == "cashapp" && !strings.HasPrefix(name, "$") {
			name = "$" + name
		}
		add(normalize(p, name))
	}
	for _, m := range findIf(strings.Contains(lower, "$"), cashtag, lower) {
		add(normalize("cashapp", "$"+m[1]))
	}
	var domains [][]int
	if mentionsTLD(lower) {
		domains = domain.FindAllStringSubmatchIndex(lower, -1)
	}
	for _, m := range domains {
		d := lower[m[2]:m[3]]
		if inEmail(m[2]) || isPlatformDomain(d) || insideURL(urlSpans, m[2]) {
			continue
		}
		add("domain:" + strings.TrimPrefix(d, "www."))
	}
	return out
}

func findIf(ok bool, re *regexp.Regexp, s string) [][]string {
	if !ok {
		return nil
	}
	return re.FindAllStringSubmatch(s, -1)
}

var labelWords = []string{"insta", "ig", "snap", "sc", "tele", "tg", "whatsapp", "wa", "kik", "onlyfans", "of", "twitter", "x", "venmo", "cash"}

// mentionsPlatform is a cheap test for a platform label in lowercase s.
func mentionsPlatform(s string) bool {
	for _, w := range labelWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

var tlds = []string{".com", ".net", ".org", ".me", ".io", ".co", ".xxx", ".club", ".site", ".online", ".info", ".biz", ".us"}

func mentionsTLD(s string) bool {
	for _, t := range tlds {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

func insideURL(spans [][]int, i int) bool {
	for _, sp := range spans {
		if i >= sp[0] && i < sp[1] {
			return true
		}
	}
	return false
}

func isPlatformDomain(d string) bool {
	d = strings.TrimPrefix(d, "www.")
	switch d {
	case "instagram.com", "t.me", "onlyfans.com", "twitter.com", "x.com", "snapchat.com", "kik.me", "venmo.com", "cash.app", "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com":
		return true
	}
	return false
}

func normalize(platform, name string) string {
	name = strings.ToLower(strings.TrimPrefix(name, "@"))
	if platform == "venmo" {
		name = "@" + name
	}
	return platform + ":" + name
}

// isUpper reports whether text[i:j] is written in capitals (the offsets
// are those of the lowercased text, equal for ASCII labels).
func isUpper(text string, i, j int) bool {
	if j > len(text) || len(strings.ToLower(strings.ToValidUTF8(text, " "))) != len(text) {
		return false
	}
	seg := text[i:j]
	return seg == strings.ToUpper(seg)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Personal reports whether the normalized handle h is one person's own
// social or messaging account (Instagram, Snapchat, Twitter/X, OnlyFans,
// Kik, Telegram). Every other handle (email, Cash App, Venmo, WhatsApp, a
// website domain) is a contact: like a phone, it may be held by someone
// who advertises several people. Linking joins ads of one profile on a
// personal handle and profiles into networks on a contact; the alert rules
// count contacts the same way.
func Personal(h string) bool {
	kind, _, _ := strings.Cut(h, ":")
	switch kind {
	case "instagram", "snapchat", "twitter", "onlyfans", "kik", "telegram":
		return true
	}
	return false
}
