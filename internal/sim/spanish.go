package sim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// The alameda world also has persons who write in Spanish: in Fresno, on
// simclassifieds, with US numbers written as digits or as Spanish words,
// and in Guayaquil (Ecuador), on a third site, clasificados
// (configs/sites/clasificados.yaml), with Ecuadorian mobile numbers
// written the national way ("099 312 4567", no +593). They are generated
// after everyone else from their own random stream, in cities and days
// the DA's Oakland figures do not count, so the rest of the world is the
// same with or without them.

// Country is where a city is (ISO 3166), for reading numbers written
// without a country code.
func Country(city string) string {
	if city == "Guayaquil" {
		return "EC"
	}
	return "US"
}

// SpanishCities are the cities of the persons who write in Spanish:
// Fresno on simclassifieds, Guayaquil on clasificados.
var SpanishCities = []string{"Fresno", "Guayaquil"}

// ECCities are the cities served by clasificados.
var ECCities = map[string]bool{"Guayaquil": true}

var (
	namesES  = []string{"Valeria", "Camila", "Lucía", "Daniela", "Sofía", "Mariana", "Paola", "Gabriela", "Ximena", "Carolina", "Andrea", "Fernanda", "Renata", "Jimena", "Alejandra", "Maribel"}
	titlesES = []string{"Compañía dulce y amable", "%s disponible hoy", "Latina elegante en %s", "Sonrisa bonita, buena conversación",
		"Discreta y cariñosa", "Momento relajante con %s"}
	openersES = []string{"Hola caballeros, soy %s.", "Hola amor, me llamo %s.", "Bienvenidos, soy %s y este es mi anuncio.", "Hola, aquí %s para ti."}
	fillersES = []string{"Soy limpia, discreta y respetuosa.", "Atiendo en mi lugar propio.", "Disponible hasta tarde en la noche.",
		"Sin prisas y en un ambiente tranquilo.", "Solo mensajes de texto, no números privados.", "Trato amable y educado con todos.",
		"Escríbeme con respeto, por favor."}
	distractES = []string{"$150 la hora", "1,60 m y 52 kilos", "Horario de 10 a 22", "Medidas 90-60-90", "Desde el 2019 en la ciudad"}
	movementES = []string{"Nueva en la ciudad, me voy pronto.", "De paso por unos días.", "Última noche en la ciudad."}
	youthES    = []string{"Recién cumplidos los 18, nueva en esto.", "Jovencita y un poco tímida.", "Colegiala de carita tierna."}
	contactES  = []string{"Escríbeme al ", "Llámame: ", "WhatsApp ", "Mi número: "}
	digitsES   = []string{"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"}
	unitsES    = []string{"", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"}
	teensES    = []string{"diez", "once", "doce", "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve",
		"veinte", "veintiuno", "veintidós", "veintitrés", "veinticuatro", "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve"}
	tensES = []string{"", "", "", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"}
)

// spanishWorld adds the persons who write in Spanish and their ads, with
// ids after all the others. photo is the next free photo id; usedPhones
// the numbers already given.
func (w *World) spanishWorld(seed int64, photo int, usedPhones map[string]bool) {
	r := rand.New(rand.NewPCG(uint64(seed), 0xe5a401))
	newPhone := func(country string) string {
		for {
			var n string
			if country == "EC" {
				// Ecuadorian mobiles: +593 9X XXX XXXX.
				n = fmt.Sprintf("+5939%d%07d", 6+r.IntN(4), r.IntN(10000000))
			} else {
				// Fresno's area code.
				ex := 200 + r.IntN(800)
				if ex%100 == 11 || ex == 555 {
					continue
				}
				n = fmt.Sprintf("+1559%03d%04d", ex, r.IntN(10000))
			}
			num, err := phonenumbers.Parse(n, "ZZ")
			if err == nil && phonenumbers.IsValidNumber(num) && !usedPhones[n] {
				usedPhones[n] = true
				return n
			}
		}
	}
	first := len(w.Persons)
	var country string
	newPerson := func() int {
		p := Person{ID: len(w.Persons), Name: namesES[r.IntN(len(namesES))], Phone: newPhone(country), Network: -1,
			Age: 20 + r.IntN(15), Stolen: -1, Spanish: true}
		for range 1 + r.IntN(3) {
			p.Photos = append(p.Photos, photo)
			photo++
		}
		if (p.ID-first)%8 == 3 { // three in each city may be minors
			p.Youth, p.Age = true, 18+r.IntN(2)
		}
		w.Persons = append(w.Persons, p)
		return p.ID
	}
	from := len(w.Ads)
	la, _ := time.ParseInLocation("2006-01-02", "2020-09-01", w.loc)
	country = "US"
	w.steady(r, newPerson, []string{"Fresno"}, la, 28, 24)
	ec, _ := time.ParseInLocation("2006-01-02", "2020-09-01", ecZone)
	country = "EC"
	w.steady(r, newPerson, []string{"Guayaquil"}, ec, 28, 20)
	for i := from; i < len(w.Ads); i++ {
		w.writeSpanish(r, &w.Ads[i])
	}
	ads := w.Ads[from:]
	sortAdsByTime(ads)
	for i := range ads {
		ads[i].ID = 100000 + from + i
	}
}

// sortAdsByTime sorts ads by the time posted, then by person.
func sortAdsByTime(ads []Ad) {
	sort.SliceStable(ads, func(i, j int) bool {
		if !ads[i].PostedAt.Equal(ads[j].PostedAt) {
			return ads[i].PostedAt.Before(ads[j].PostedAt)
		}
		return ads[i].Person < ads[j].Person
	})
}

// writeSpanish fills in the text, phone and photos of an ad in Spanish.
func (w *World) writeSpanish(r *rand.Rand, a *Ad) {
	p := w.Persons[a.Person]
	a.Spanish = true
	a.Poster, a.Age, a.Phones = p.Name, p.Age, []string{p.Phone}
	t := titlesES[r.IntN(len(titlesES))]
	if strings.Contains(t, "%s") {
		if strings.HasSuffix(t, "en %s") {
			t = fmt.Sprintf(t, a.City)
		} else {
			t = fmt.Sprintf(t, a.Poster)
		}
	}
	a.Title = t
	body := []string{fmt.Sprintf(openersES[r.IntN(len(openersES))], a.Poster)}
	// The Ecuadorian site has no age field: the ad says it.
	if ECCities[a.City] || r.IntN(2) == 0 {
		body = append(body, fmt.Sprintf([]string{"Tengo %d años.", "Tengo %d añitos.", "Edad: %d años."}[r.IntN(3)], a.Age))
	}
	if p.Youth {
		y := youthES[r.IntN(len(youthES))]
		if strings.Contains(y, "18") && a.Age != 18 {
			y = youthES[1]
		}
		body = append(body, y)
	}
	body = append(body, fillersES[r.IntN(len(fillersES))], distractES[r.IntN(len(distractES))])
	if r.IntN(4) == 0 {
		body = append(body, movementES[r.IntN(len(movementES))])
	}
	written, obf := writePhoneES(r, p.Phone)
	if obf || r.IntN(2) == 0 {
		body = append(body, contactES[r.IntN(len(contactES))]+written)
	} else {
		a.PhoneField = written
	}
	body = append(body, fillersES[r.IntN(len(fillersES))])
	a.Body = strings.Join(body, "\n")
	a.Photos = []Photo{{p.Photos[0], 60 + r.IntN(36), 0}}
	if len(p.Photos) > 1 && r.IntN(2) == 0 {
		a.Photos = append(a.Photos, Photo{p.Photos[1+r.IntN(len(p.Photos)-1)], 60 + r.IntN(36), 0})
	}
}

// writePhoneES renders a number the way ads in Spanish write it: US
// numbers as in the US or in Spanish words, Ecuadorian ones in the
// national format (a 0 for the +593) as digits or words. The second result
// says whether the form is obfuscated.
func writePhoneES(r *rand.Rand, e164 string) (string, bool) {
	var groups []string
	if strings.HasPrefix(e164, "+593") {
		d := "0" + strings.TrimPrefix(e164, "+593") // 0991234567
		groups = []string{d[:3], d[3:6], d[6:]}
		switch r.IntN(6) {
		case 0:
			return d, false
		case 1:
			return strings.Join(groups, "-"), false
		case 2:
			return d[:3] + " " + d[3:6] + " " + d[6:8] + " " + d[8:], false
		}
	} else {
		d := strings.TrimPrefix(e164, "+1")
		groups = []string{d[:3], d[3:6], d[6:]}
		switch r.IntN(6) {
		case 0:
			return fmt.Sprintf("(%s) %s-%s", groups[0], groups[1], groups[2]), false
		case 1:
			return strings.Join(groups, "-"), false
		case 2:
			return strings.Join(groups, "."), false
		}
	}
	switch r.IntN(3) {
	case 0: // digit by digit in words: "cero nueve nueve, tres uno dos, ..."
		var ws []string
		for _, g := range groups {
			var gw []string
			for _, ch := range g {
				gw = append(gw, digitsES[ch-'0'])
			}
			ws = append(ws, strings.Join(gw, " "))
		}
		return strings.Join(ws, ", "), true
	case 1: // the last group in pairs of words: "... cuarenta y cinco sesenta y siete"
		last := groups[2]
		return groups[0] + " " + groups[1] + " " + pairES(last[:2]) + " " + pairES(last[2:]), true
	default: // plain digits with the groups' first digit spelled out
		var ws []string
		for _, g := range groups {
			ws = append(ws, digitsES[g[0]-'0']+g[1:])
		}
		return strings.Join(ws, " "), true
	}
}

// pairES writes two digits as Spanish says them: "cero siete",
// "dieciséis", "cuarenta y cinco", "treinta".
func pairES(d string) string {
	n := int(d[0]-'0')*10 + int(d[1]-'0')
	switch {
	case n < 10:
		return "cero " + digitsES[n]
	case n < 30:
		return teensES[n-10]
	case n%10 == 0:
		return tensES[n/10]
	}
	return tensES[n/10] + " y " + unitsES[n%10]
}
