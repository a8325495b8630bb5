// Package leaktest is the goroutine-leak check of adwatch's tests: goleak,
// with the third-party goroutines that no test can stop named once.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// ignored are goroutines of dependencies that outlive any test.
var ignored = []goleak.Option{
	// bleve's package init starts the analysis workers of its global
	// Config; bleve never stops them.
	goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
	// nats.go v1.55.0 race: ObjectStore.Put publishes through its own
	// JetStream context and cleans it up on return; when the cleanup runs
	// before resetPendingAcksOnReconnect has read its status channel, that
	// goroutine waits on a nil channel forever.
	goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
}

// VerifyTestMain runs the package's tests, then fails them when a
// goroutine of the package outlives them. Call it from TestMain.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, ignored...) }
