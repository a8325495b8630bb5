package crawler

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/adwatch/adwatch/internal/record"
)

// redactErr replaces the URL in an error's text with its PageRef.
func redactErr(err error, u string) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.ReplaceAll(err.Error(), u, record.PageRef(u)))
}

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
