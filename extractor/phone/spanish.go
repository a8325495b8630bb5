package phone

import (
	"unicode"
	"unicode/utf8"
)

// spanishRegions are the countries whose ads are read with Spanish number
// words whatever their language.
var spanishRegions = map[string]bool{
	"ES": true, "MX": true, "CO": true, "AR": true, "PE": true, "VE": true, "CL": true, "EC": true, "GT": true,
	"CU": true, "BO": true, "DO": true, "HN": true, "PY": true, "SV": true, "NI": true, "CR": true, "PA": true,
	"UY": true, "GQ": true,
}

// Common words that tell Spanish from English in an ad.
var (
	spanishStop = map[string]bool{
		"de": true, "la": true, "que": true, "el": true, "en": true, "los": true, "las": true, "por": true,
		"con": true, "para": true, "una": true, "mi": true, "es": true, "soy": true, "tengo": true, "años": true,
		"anos": true, "llama": true, "llamame": true, "hola": true, "amor": true, "chica": true,
		"solo": true, "muy": true, "más": true, "mas": true, "del": true, "al": true, "y": true, "estoy": true,
		"tu": true, "te": true, "nueva": true, "servicio": true, "escribe": true, "escríbeme": true, "número": true,
		"numero": true, "cel": true, "celular": true, "whats": true, "hora": true, "ciudad": true, "bebé": true,
		"cero": true, "uno": true, "tres": true, "cuatro": true, "cinco": true, "seis": true, "siete": true,
		"ocho": true, "nueve": true, "diez": true, "llámame": true, "llamar": true, "mensaje": true,
	}
	englishStop = map[string]bool{
		"the": true, "and": true, "to": true, "you": true, "i": true, "my": true, "me": true, "is": true,
		"for": true, "with": true, "call": true, "text": true, "in": true, "am": true, "your": true, "a": true,
		"new": true, "town": true, "girl": true, "of": true, "im": true, "i'm": true, "hour": true,
	}
)

// stopWords maps the common words of each language to +1 (Spanish) or
// -1 (English).
var stopWords = func() map[string]int {
	m := map[string]int{}
	for w := range englishStop {
		m[w] = -1
	}
	for w := range spanishStop {
		m[w] = 1
	}
	return m
}()

// Spanish reports text that reads as Spanish: more common Spanish words
// than English ones, and at least two. Ads in Spanish are read with
// Spanish number words ("cinco uno cero", "ocho setenta y tres").
func Spanish(text string) bool {
	es, en := 0, 0
	var buf [12]byte
	n, long := 0, false
	end := func() {
		if n > 0 && !long {
			switch stopWords[string(buf[:n])] {
			case 1:
				es++
			case -1:
				en++
			}
		}
		n, long = 0, false
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c >= 'a' && c <= 'z', c == '\'':
			default:
				end()
				continue
			}
			if n < len(buf) {
				buf[n] = c
				n++
			} else {
				long = true
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		i += w
		if !unicode.IsLetter(r) {
			end()
			continue
		}
		r = unicode.ToLower(r)
		if n+utf8.RuneLen(r) <= len(buf) {
			n += utf8.EncodeRune(buf[n:], r)
		} else {
			long = true
		}
	}
	end()
	return es >= 2 && es > en
}
