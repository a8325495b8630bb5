package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	titles = []string{"Sweet and friendly company", "Relaxing time with %s", "%s is available now",
		"Classy companion in %s", "Upscale and discreet", "Girl next door %s", "Kind smile, good conversation"}
	openers = []string{"Hi gentlemen, I'm %s.", "Hello there, my name is %s.", "Hey, %s here.", "Welcome, I am %s."}
	fillers = []string{"Clean, discreet and respectful.", "Upscale incall only.", "Available late tonight.",
		"Outcall available in the area.", "No rush, friendly vibe.", "Serious inquiries only, no games.",
		"Text only, no blocked numbers.", "Screening required."}
	movement   = []string{"Just visiting for a few days!", "New in town, leaving soon.", "Last night in the city."}
	youthTerms = []string{"New to this and a little shy.", "Petite and young looking 🎀.", "Fresh face, just turned legal."}
	thirdParty = []string{"Ask about my friends, two girl special.", "My girls are available too."}
	distract   = []string{"$200/hr, 150 hh", "5'4 120lbs", "34-24-36", "Hours 10am-2am", "Donations $160 qv, $250 hr", "34D-23-35, 5'6", "Since 2016 06 17"}
	spelled    = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)

// writePhone renders a US number (+1NXXNXXXXXX) in one of the forms ads use;
// the second result says whether the form is obfuscated.
func writePhone(r *rand.Rand, e164 string) (string, bool) {
	if !strings.HasPrefix(e164, "+1") {
		// A foreign number: +44 7911 123456 or 0044 7911 123 456.
		d := strings.TrimPrefix(e164, "+44")
		if r.IntN(2) == 0 {
			return "+44 " + d[:4] + " " + d[4:], false
		}
		return "0044 " + d[:4] + " " + d[4:7] + " " + d[7:], true
	}
	d := strings.TrimPrefix(e164, "+1")
	a, b, c := d[:3], d[3:6], d[6:]
	switch r.IntN(12) {
	case 10: // keycap emoji digits
		var s strings.Builder
		for _, ch := range d {
			s.WriteString(string(ch) + "\ufe0f\u20e3")
		}
		return s.String(), true
	case 11: // emoji between groups, "oh" for zero
		rep := strings.NewReplacer("0", " oh ")
		return rep.Replace(a) + " 💋 " + rep.Replace(b) + " 💋 " + rep.Replace(c), true
	case 0:
		return fmt.Sprintf("(%s) %s-%s", a, b, c), false
	case 1:
		return fmt.Sprintf("%s.%s.%s", a, b, c), false
	case 2:
		return fmt.Sprintf("%s-%s-%s", a, b, c), false
	case 3:
		return fmt.Sprintf("1-%s-%s-%s", a, b, c), false
	case 4: // digits as words mixed with digits, mixed case
		var s strings.Builder
		for i, ch := range d {
			if i%2 == 0 {
				w := spelled[ch-'0']
				if r.IntN(2) == 0 {
					w = strings.ToUpper(w)
				}
				s.WriteString(w)
			} else {
				s.WriteRune(ch)
			}
			if i == 2 || i == 5 {
				s.WriteString("-")
			}
		}
		return s.String(), true
	case 5: // separators inside groups
		seps := []string{"*", "~", "|", "•", "!", " "}
		sep := seps[r.IntN(len(seps))]
		return strings.Join(strings.Split(d, ""), sep), true
	case 6: // letters for digits
		rep := strings.NewReplacer("0", "O", "1", "l")
		return fmt.Sprintf("%s %s %s", rep.Replace(a), rep.Replace(b), rep.Replace(c)), true
	case 7: // fullwidth digits
		var s strings.Builder
		for i, ch := range d {
			s.WriteRune(ch - '0' + '０')
			if i == 2 || i == 5 {
				s.WriteString(" ")
			}
		}
		return s.String(), true
	case 8: // bracketed digits
		var s strings.Builder
		for _, ch := range a {
			fmt.Fprintf(&s, "[%c]", ch)
		}
		return s.String() + " " + b + " " + c, true
	default: // glued to a word
		return "call" + a + "*" + b + "*" + c, true
	}
}

// write fills in each ad's text, phones and photos.
func (w *World) write(r *rand.Rand) {
	// A controller's phone is in the first ad of each of its persons, and
	// in two of three after.
	shown := map[int]bool{}
	first := map[int]time.Time{}
	for _, a := range w.Ads {
		if t, ok := first[a.Person]; !ok || a.PostedAt.Before(t) {
			first[a.Person] = a.PostedAt
		}
	}
	for i := range w.Ads {
		a := &w.Ads[i]
		p := w.Persons[a.Person]
		a.Poster = p.Name
		if p.AltName != "" && r.IntN(2) == 0 {
			a.Poster = p.AltName
		}
		a.Age = p.Age
		if p.Falling && a.PostedAt.After(first[p.ID]) {
			a.Age = p.Age - 3
		}
		phone := p.Phone
		if p.Network >= 0 && (!shown[p.ID] || r.IntN(3) > 0) {
			phone = w.Controllers[p.Network]
			shown[p.ID] = true
		}
		a.Phones = []string{phone}
		t := titles[r.IntN(len(titles))]
		if strings.Contains(t, "%s") {
			if strings.HasSuffix(t, "in %s") {
				t = fmt.Sprintf(t, a.City)
			} else {
				t = fmt.Sprintf(t, a.Poster)
			}
		}
		a.Title = t
		var body []string
		body = append(body, fmt.Sprintf(openers[r.IntN(len(openers))], a.Poster))
		if p.Youth {
			body = append(body, youthTerms[r.IntN(len(youthTerms))])
		}
		if p.Network >= 0 && r.IntN(3) == 0 {
			body = append(body, thirdParty[r.IntN(len(thirdParty))])
		}
		body = append(body, fillers[r.IntN(len(fillers))], distract[r.IntN(len(distract))])
		if r.IntN(4) == 0 {
			body = append(body, movement[r.IntN(len(movement))])
		}
		written, obf := writePhone(r, phone)
		if obf || r.IntN(2) == 0 {
			body = append(body, "Text me: "+written)
		} else {
			a.PhoneField = written
		}
		if p.Handle != "" && r.IntN(2) == 0 {
			forms := []string{"IG: %s", "insta @%s", "instagram.com/%s", "Instagram - %s"}
			body = append(body, fmt.Sprintf(forms[r.IntN(len(forms))], p.Handle))
			a.Handles = []string{"instagram:" + p.Handle}
		}
		body = append(body, fillers[r.IntN(len(fillers))])
		a.Body = strings.Join(body, "\n")
		// Every ad shows the person's first photo, re-encoded, and maybe another.
		q := 60 + r.IntN(36)
		crop := func() int {
			if r.IntN(4) == 0 {
				return 1 + r.IntN(5)
			}
			return 0
		}
		photos := p.Photos
		if len(p.NewPhotos) > 0 && r.IntN(2) == 0 {
			photos = p.NewPhotos
		}
		a.Photos = []Photo{{photos[0], q, crop()}}
		if len(photos) > 1 && r.IntN(2) == 0 {
			a.Photos = append(a.Photos, Photo{photos[1+r.IntN(len(photos)-1)], 60 + r.IntN(36), crop()})
		}
		if p.Stolen >= 0 && r.IntN(2) == 0 {
			a.Photos = append(a.Photos, Photo{p.Stolen, 60 + r.IntN(36), 0})
		}
	}
}
