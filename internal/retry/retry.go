// Package retry says how long to wait before retrying a request that
// failed for a reason that may pass: an exponential backoff by attempt, or
// the wait the server asked for in a Retry-After header.
//
// It computes waits only; callers wait in their own way (a timer, a
// JetStream NakWithDelay). Waits depend on the attempt number alone, not on
// earlier calls, so an attempt count kept elsewhere (a colly context, a
// message's delivery count) is enough.
package retry

import (
	"net/http"
	"strconv"
	"time"
)

// MaxRetryAfter caps the wait a server may ask for with Retry-After.
const MaxRetryAfter = 5 * time.Minute

// Backoff is an exponential backoff: Base before the first retry, doubled
// for each further one, never more than Max.
type Backoff struct {
	Base, Max time.Duration
}

// Wait is the wait before retry attempt n (0-based): the server's
// Retry-After value (seconds or an HTTP date, at most MaxRetryAfter) when
// it is valid, else Base doubled n times, capped at Max. retryAfter may be
// empty.
func (b Backoff) Wait(attempt int, retryAfter string) time.Duration {
	if d, ok := After(retryAfter); ok {
		return d
	}
	d := b.Base
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// After reads a Retry-After header value: delay seconds or an HTTP date,
// capped at MaxRetryAfter (a date in the past is no wait). ok is false when
// the value is empty or neither form.
func After(retryAfter string) (d time.Duration, ok bool) {
	if retryAfter == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(retryAfter); err == nil && secs >= 0 {
		return min(time.Duration(secs)*time.Second, MaxRetryAfter), true
	}
	if t, err := http.ParseTime(retryAfter); err == nil {
		return min(max(time.Until(t), 0), MaxRetryAfter), true
	}
	return 0, false
}
