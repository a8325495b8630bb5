package crawler

import (
	"fmt"
	"net/url"
)

// resolve makes ref absolute against the page URL base.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing page url: %w", err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("parsing image url %q: %w", ref, err)
	}
	return b.ResolveReference(r).String(), nil
}
