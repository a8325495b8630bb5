package digest

import (
	"errors"
	"strings"
	"testing"

	"github.com/adwatch/adwatch/alerts"
	"github.com/adwatch/adwatch/internal/record"
)

// TestRedact: a delivery error logged names the webhook's host, never its
// token, user info or query, nor the SMTP password.
func TestRedact(t *testing.T) {
	t.Setenv("ADWATCH_TEST_SMTP_PW", "hunter2hunter2")
	s := &Sender{SMTP: alerts.SMTP{PasswordEnv: "ADWATCH_TEST_SMTP_PW"}}
	for _, tc := range []struct{ hook, err, want string }{
		{"https://hooks.example/services/T0/B0/s3cr3t", `webhook: posting webhook: Post "https://hooks.example/services/T0/B0/s3cr3t": dial tcp: refused`, `Post "https://hooks.example/…"`},
		{"https://bot:s3cr3t@hooks.example/x?token=s3cr3t", `webhook: posting webhook: Post "https://bot:***@hooks.example/x?token=s3cr3t": EOF`, `Post "https://hooks.example/…"`},
		{"", "email: auth failed for hunter2hunter2", "email: auth failed for ***"},
	} {
		got := s.redact(errors.New(tc.err), &record.Digest{Webhook: tc.hook})
		if strings.Contains(got, "s3cr3t") || strings.Contains(got, "hunter2") || !strings.Contains(got, tc.want) {
			t.Errorf("redact(%q) = %q, want %q in it and no secret", tc.err, got, tc.want)
		}
	}
}
