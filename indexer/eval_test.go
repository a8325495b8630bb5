package indexer

import (
	"math"
	"testing"
)

func TestEvaluate(t *testing.T) {
	truth := map[string]string{"a": "p1", "b": "p1", "c": "p1", "d": "p2", "e": "p2"}
	for _, tc := range []struct {
		name              string
		pred              map[string]string
		prec, rec, bp, br float64
	}{
		{"perfect", map[string]string{"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}, 1, 1, 1, 1},
		{"all merged", map[string]string{"a": "x", "b": "x", "c": "x", "d": "x", "e": "x"}, 4.0 / 10, 1, (9.0 + 4) / 25, 1},
		{"all split", map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}, 1, 0, 1, (3*1.0/3 + 2*1.0/2) / 5},
	} {
		s := Evaluate(tc.pred, truth)
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"pair precision", s.PairPrecision, tc.prec}, {"pair recall", s.PairRecall, tc.rec},
			{"b3 precision", s.BCubedPrecision, tc.bp}, {"b3 recall", s.BCubedRecall, tc.br}} {
			if math.Abs(c.got-c.want) > 1e-9 {
				t.Errorf("%s: %s = %v, want %v", tc.name, c.what, c.got, c.want)
			}
		}
	}
}
