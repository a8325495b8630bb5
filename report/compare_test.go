package report

import "testing"

func TestChangeMatchesTheDA(t *testing.T) {
	for _, tc := range []struct {
		cur, prev int
		want      float64
	}{{1165, 999, 16.6}, {750, 666, 12.6}, {90, 100, -10}, {5, 0, 0}} {
		if got := NewChange(tc.cur, tc.prev).ChangePct; got != tc.want {
			t.Errorf("NewChange(%d, %d) = %v, want %v", tc.cur, tc.prev, got, tc.want)
		}
	}
}
