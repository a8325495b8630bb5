package crawler

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func jsOrdered() jetstream.OrderedConsumerConfig { return jetstream.OrderedConsumerConfig{} }
func fetchWait() jetstream.FetchOpt              { return jetstream.FetchMaxWait(2 * time.Second) }
