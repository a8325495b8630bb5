package alerts

// Env is what a rule's expression sees: the one entity it applies to,
// under its name (ad, profile, phone or city).
type Env struct {
	Ad      *AdFacts      `expr:"ad"`
	Profile *ProfileFacts `expr:"profile"`
	Phone   *PhoneFacts   `expr:"phone"`
	City    *CityFacts    `expr:"city"`
}

// NoAge is the stated age of an entity where no age is stated, so that
// "min_stated_age < 18" is false for it.
const NoAge = 999

// AdFacts are the documented fields of an ad.
type AdFacts struct {
	ID   string `expr:"id"`
	City string `expr:"city"`
	// MinStatedAge is the youngest age the ad states, NoAge when none.
	MinStatedAge int `expr:"min_stated_age"`
	// Indicators is the score per indicator category (youth, third_party,
	// obfuscation, movement, ...); a missing category reads 0.
	Indicators map[string]float64 `expr:"indicators"`
	// Terms are the matched indicator terms.
	Terms []string `expr:"terms"`
	// WatchHits are the watchlist entries the ad matches.
	WatchHits []string `expr:"watch_hits"`
	Phones    []string `expr:"phones"`
}

// ProfileFacts are the documented fields of a profile (one person).
type ProfileFacts struct {
	ID  string `expr:"id"`
	Ads int    `expr:"ads"`
	// MinStatedAge and MaxStatedAge over all its ads, NoAge and 0 when
	// none is stated.
	MinStatedAge int `expr:"min_stated_age"`
	MaxStatedAge int `expr:"max_stated_age"`
	// AgesFalling is true when a later ad states a younger age than an
	// earlier one.
	AgesFalling bool `expr:"ages_falling"`
	// Indicators is the highest score per category in any one of its ads.
	Indicators map[string]float64 `expr:"indicators"`
	Cities     []string           `expr:"cities"`
	// CitiesInWindow is the most distinct cities among its ads within any
	// window of window_days.
	CitiesInWindow int `expr:"cities_in_window"`
	// AdsLastDay counts its ads in the 24 hours before its latest ad;
	// DailyBaseline is its average per day before that.
	AdsLastDay    int     `expr:"ads_last_day"`
	DailyBaseline float64 `expr:"daily_baseline"`
}

// PhoneFacts are the documented fields of a phone number or another
// contact (email, Cash App, Venmo, WhatsApp, a website domain: any handle
// that handle.Personal says may be a controller's).
type PhoneFacts struct {
	Number string `expr:"number"`
	// Profiles in all its ads; ProfilesInWindow, the most within any
	// window of window_days.
	Profiles         int `expr:"profiles"`
	ProfilesInWindow int `expr:"profiles_in_window"`
	Ads              int `expr:"ads"`
	// AdsLastDay and DailyBaseline as for a profile.
	AdsLastDay    int     `expr:"ads_last_day"`
	DailyBaseline float64 `expr:"daily_baseline"`
}

// CityFacts are the documented fields of a city on one local day.
type CityFacts struct {
	Name string `expr:"name"`
	Date string `expr:"date"`
	// AdsDay counts the city's ads that day; Baseline is the mean of the
	// same weekday over the previous four weeks (or of the previous seven
	// days when there is no such history); Days is how many days of
	// history the baseline has.
	AdsDay   int     `expr:"ads_day"`
	Baseline float64 `expr:"baseline"`
	Days     int     `expr:"days"`
}
