package indexer

// Scores compares a clustering (profiles or networks) with the truth
// (persons or true networks) over the same items.
type Scores struct {
	// Pairwise: over all pairs of items, those put together.
	PairPrecision float64 `json:"pair_precision"`
	PairRecall    float64 `json:"pair_recall"`
	PairF1        float64 `json:"pair_f1"`
	// B-cubed: per item, the share of its cluster that is truly its own,
	// and of its true group that its cluster holds, averaged.
	BCubedPrecision float64 `json:"bcubed_precision"`
	BCubedRecall    float64 `json:"bcubed_recall"`
	// Clusters found against true groups.
	Clusters int `json:"clusters"`
	Truth    int `json:"truth"`
	Items    int `json:"items"`
}

// Evaluate scores predicted clusters against true groups; both map an item
// to its cluster. Items missing from pred are left out.
func Evaluate(pred, truth map[string]string) Scores {
	type cell struct{ p, t string }
	cells := map[cell]int{}
	ps, ts := map[string]int{}, map[string]int{}
	for item, t := range truth {
		p, ok := pred[item]
		if !ok {
			continue
		}
		cells[cell{p, t}]++
		ps[p]++
		ts[t]++
	}
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var tp, predPairs, truePairs float64
	for _, n := range cells {
		tp += pairs(n)
	}
	for _, n := range ps {
		predPairs += pairs(n)
	}
	for _, n := range ts {
		truePairs += pairs(n)
	}
	s := Scores{Clusters: len(ps), Truth: len(ts)}
	s.PairPrecision, s.PairRecall = ratio(tp, predPairs), ratio(tp, truePairs)
	if s.PairPrecision+s.PairRecall > 0 {
		s.PairF1 = 2 * s.PairPrecision * s.PairRecall / (s.PairPrecision + s.PairRecall)
	}
	var bp, br float64
	for c, n := range cells {
		// Each of the n items in this cell scores n/|cluster| and n/|group|.
		bp += float64(n) * float64(n) / float64(ps[c.p])
		br += float64(n) * float64(n) / float64(ts[c.t])
		s.Items += n
	}
	if s.Items > 0 {
		s.BCubedPrecision, s.BCubedRecall = bp/float64(s.Items), br/float64(s.Items)
	}
	return s
}

// ratio is a/b, and 1 when there is nothing to get wrong.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 1
	}
	return a / b
}
