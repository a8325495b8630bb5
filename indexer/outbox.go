package indexer

import (
	"encoding/json"
	"fmt"
	"slices"
)

// outboxKey is the index's internal key of the ads whose profile updates
// are not yet published: written in the same batch as the ads themselves,
// so a crash between indexing and publishing loses no update.
var outboxKey = []byte("adwatch:outbox")

// loadOutbox reads the ads waiting for their profile updates.
func (x *Index) loadOutbox() error {
	data, err := x.bleve.GetInternal(outboxKey)
	if err != nil {
		return fmt.Errorf("reading the index's outbox: %w", err)
	}
	x.outbox = map[string]bool{}
	if len(data) == 0 {
		return nil
	}
	var ids []string
	if err := json.Unmarshal(data, &ids); err != nil {
		return fmt.Errorf("decoding the index's outbox: %w", err)
	}
	for _, id := range ids {
		x.outbox[id] = true
	}
	return nil
}

// outboxValue is the outbox with more ids added, encoded.
func (x *Index) outboxValue(more []string) ([]byte, error) {
	ids := make([]string, 0, len(x.outbox)+len(more))
	for id := range x.outbox {
		ids = append(ids, id)
	}
	for _, id := range more {
		if !x.outbox[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return json.Marshal(ids)
}

// Unpublished returns the ads indexed whose profile updates are not yet
// published (Published has not been called since): after a failure or a
// crash between the two, the ones the stage must publish again. With
// each, the other ads of its profile, which linking it may have moved.
func (x *Index) Unpublished() []string {
	x.mu.Lock()
	var ids []string
	for id := range x.outbox {
		ids = append(ids, id)
	}
	x.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		for _, m := range append([]string{id}, x.Linker.Members(x.Linker.Profile(id))...) {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Published records that the profile updates of every ad in the outbox
// are published. One stage writes an index, so nothing is added between
// its Put and this.
func (x *Index) Published() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	// The linking's redirects are written first: they hold whatever
	// becomes of the outbox.
	if err := x.writeRedirects(); err != nil {
		return err
	}
	if len(x.outbox) == 0 {
		return nil
	}
	clear(x.outbox)
	b := x.bleve.NewBatch()
	b.DeleteInternal(outboxKey)
	if err := x.bleve.Batch(b); err != nil {
		return fmt.Errorf("emptying the index's outbox: %w", err)
	}
	return nil
}
