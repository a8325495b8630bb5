package baseline

import (
	"testing"

	"github.com/adwatch/adwatch/internal/leaktest"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
