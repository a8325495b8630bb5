package record

import "time"

// ProfileUpdate tells the alert stage an ad's current profile. The indexer
// publishes one on the profile-update subject whenever an ad is linked or
// its profile changes through a merge.
type ProfileUpdate struct {
	Ad       string    `json:"ad"`
	Profile  string    `json:"profile"`
	Network  string    `json:"network"`
	Phones   []string  `json:"phones"`
	Handles  []string  `json:"handles,omitempty"`
	City     string    `json:"city"`
	PostedAt time.Time `json:"posted_at"`
	Title    string    `json:"title"`
	Ages     []int     `json:"ages,omitempty"`
	// Indicators and Scores as extracted from the ad.
	Indicators []Indicator        `json:"indicators,omitempty"`
	Scores     map[string]float64 `json:"scores,omitempty"`
	// Images are the SHA-256 of the ad's images.
	Images []string `json:"images,omitempty"`
	// Photos are the perceptual hashes of the ad's images, for the
	// watchlist's near-duplicate photo entries.
	Photos []Photo `json:"photos,omitempty"`
	// Text is the ad's title and body, lowercase, for watchlist terms.
	Text string `json:"text,omitempty"`
}

// Photo is one image's perceptual hash and those of its crop variants, in
// hex.
type Photo struct {
	PHash string   `json:"phash"`
	Crops []string `json:"crops,omitempty"`
}
