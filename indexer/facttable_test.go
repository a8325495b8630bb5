package indexer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFactTable sets and reads back ads' facts: strings of every length
// (empty, one larger than a chunk), photos added to two ads in turn (an
// ad's photos are consecutive), a string shared by two ads kept once, a
// text set alone, and posting times to the nanosecond, the zero time
// included.
func TestFactTable(t *testing.T) {
	var ft factTable
	huge := strings.Repeat("h", 2*arenaChunk+3)
	posted := []time.Time{
		time.Date(2020, 10, 2, 7, 30, 0, 123456789, time.FixedZone("PDT", -7*3600)),
		{},
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	type ad struct {
		name                    string
		contacts, social, files []string
	}
	ads := []ad{
		{"rosa", []string{"+15105550101", "pay:rosa"}, []string{"ig:rosa"}, []string{strings.Repeat("a", 64), strings.Repeat("b", 64)}},
		{"", nil, nil, []string{huge}},
		{"maria", []string{"+15105550101"}, nil, []string{strings.Repeat("b", 64)}},
	}
	// known finds a string among the earlier ads' contacts and files.
	var reused int
	known := func(s string) (strRef, bool) {
		for i := range int32(ft.len()) {
			v := ft.at(i)
			for k := uint32(1); k < 1+v.nContacts+v.nSocial+v.nFiles; k++ {
				if ref := ft.refs.s[v.strs+k]; ft.bytes.get(ref) == s {
					reused++
					return ref, true
				}
			}
		}
		return strRef{}, false
	}
	for i, a := range ads {
		ft.grow(0, 0)
		ft.set(int32(i), posted[i], uint64(i)*0x1234567, i != 1, a.name, a.contacts, a.social, a.files, known)
	}
	// Photos added in turn to ads 0 and 2, then 0 again.
	want := map[int32][]photoRef{}
	for k, i := range []int32{0, 2, 0, 0, 2} {
		r := photoRef{plain: uint32(k), crops: uint32(10 * k), ncrops: uint32(k % 3)}
		ft.addPhoto(i, r)
		want[i] = append(want[i], r)
	}
	ft.setText(1, 99)
	for i, a := range ads {
		v := ft.at(int32(i))
		if got := v.posted(); !got.Equal(posted[i]) || got.Location() != time.UTC {
			t.Errorf("ad %d posted %v, want %v in UTC", i, got, posted[i])
		}
		if v.name() != a.name || !slices.Equal(v.contacts(), a.contacts) || !slices.Equal(v.social(), a.social) || !slices.Equal(v.files(), a.files) {
			t.Errorf("ad %d: %q %q %q %d files, want %q %q %q %d", i, v.name(), v.contacts(), v.social(), len(v.files()), a.name, a.contacts, a.social, len(a.files))
		}
		if got := v.photoRefs(); !slices.Equal(got, want[int32(i)]) {
			t.Errorf("ad %d photos %v, want %v", i, got, want[int32(i)])
		}
		wantText, wantHas := uint64(i)*0x1234567, i != 1
		if i == 1 {
			wantText, wantHas = 99, true
		}
		if v.text != wantText || v.hasText != wantHas {
			t.Errorf("ad %d text %x %v, want %x %v", i, v.text, v.hasText, wantText, wantHas)
		}
	}
	if !ft.at(1).posted().IsZero() {
		t.Error("the zero time did not come back as the zero time")
	}
	if !ft.at(0).before(ft.at(2)) == posted[0].Before(posted[2]) || !ft.at(1).before(ft.at(0)) {
		t.Error("before does not order as the times do")
	}
	// The phone and the file ad 2 shares with ad 0 are ad 0's bytes.
	if reused != 2 {
		t.Errorf("%d strings kept once, want 2 (the phone and the file ad 2 shares)", reused)
	}
	a0, a2 := ft.at(0), ft.at(2)
	if ft.refs.s[a0.strs+1] != ft.refs.s[a2.strs+1] {
		t.Error("the shared phone is kept twice")
	}
	// Setting an ad again keeps its photos and replaces its strings.
	ft.set(0, posted[0], 5, true, "rosa m", []string{"+15105550199"}, nil, nil, func(string) (strRef, bool) { return strRef{}, false })
	if v := ft.at(0); v.name() != "rosa m" || !slices.Equal(v.contacts(), []string{"+15105550199"}) || v.nFiles != 0 || !slices.Equal(v.photoRefs(), want[0]) {
		t.Errorf("ad 0 set again: %q %q %d files %v", v.name(), v.contacts(), v.nFiles, v.photoRefs())
	}
	if v := ft.at(2); v.name() != "maria" || !slices.Equal(v.files(), ads[2].files) {
		t.Errorf("ad 2 changed with ad 0: %q %d files", v.name(), len(v.files()))
	}
}

// TestFactTableGrowShares: ads not set yet share one empty name.
func TestFactTableGrowShares(t *testing.T) {
	var ft factTable
	for range 3 {
		ft.grow(0, 0)
	}
	if len(ft.refs.s) != 1 {
		t.Errorf("%d refs for three ads not set, want 1", len(ft.refs.s))
	}
	if v := ft.at(2); v.name() != "" || v.contacts() != nil || v.photoRefs() == nil && v.nPhotos != 0 {
		t.Errorf("an ad not set: %q %q", v.name(), v.contacts())
	}
}

// TestFactTableLarge fills a table past the size where its columns move
// outside the heap and checks every ad's facts afterwards.
func TestFactTableLarge(t *testing.T) {
	var ft factTable
	const n = 200_000
	for i := range int32(n) {
		ft.grow(int64(i), int32(i))
		ft.set(i, time.Unix(int64(i), int64(i)), uint64(i), true, fmt.Sprint("n", i), []string{fmt.Sprint("c", i)}, nil, []string{fmt.Sprint("f", i%1000)},
			func(string) (strRef, bool) { return strRef{}, false })
		ft.addPhoto(i, photoRef{plain: uint32(i)})
		if i%7 == 0 {
			ft.addPhoto(i, photoRef{plain: uint32(i) + 1})
		}
	}
	for i := range int32(n) {
		v := ft.at(i)
		if v.sec != int64(i) || v.nsec != i || v.name() != fmt.Sprint("n", i) || v.contact(0) != fmt.Sprint("c", i) || v.files()[0] != fmt.Sprint("f", i%1000) {
			t.Fatalf("ad %d: %d %d %q %q %q", i, v.sec, v.nsec, v.name(), v.contact(0), v.files())
		}
		p := v.photoRefs()
		if p[0].plain != uint32(i) || (i%7 == 0) != (len(p) == 2) {
			t.Fatalf("ad %d photos %v", i, p)
		}
	}
}
