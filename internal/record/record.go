// Package record defines the records that travel between adwatch's stages:
// the page a crawler fetched, the ad an extractor made of it, the profile
// update the indexer publishes, the alert a rule raised and the digest queued
// for a unit. Every stage imports it; it imports no stage.
//
// The records are plain JSON so that any stage, in any process, can read
// them from the NATS subjects that carry them.
package record

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
)

// SHA256Hex returns the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// PageRef names a page in logs above debug level without its path: ad
// URLs often carry a phone number or a name in their slug. It is the host
// and a short hash of the URL, enough to find the page again.
func PageRef(u string) string {
	host := "?"
	if p, err := url.Parse(u); err == nil {
		host = p.Host
	}
	return host + "#" + SHA256Hex([]byte(u))[:12]
}
