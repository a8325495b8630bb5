package web

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bleve's package init starts the analysis workers of its global
		// Config; bleve never stops them.
		goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
		// nats.go v1.55.0 race: ObjectStore.Put publishes through its own
		// JetStream context and cleans it up on return; when the cleanup
		// runs before resetPendingAcksOnReconnect has read its status
		// channel, that goroutine waits on a nil channel forever.
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
	)
}
