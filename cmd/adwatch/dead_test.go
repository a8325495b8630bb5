package main

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/adwatch/adwatch/internal/app"
	"github.com/adwatch/adwatch/internal/bus"
	"github.com/adwatch/adwatch/internal/config"
)

// TestDeadCommands lists a dead letter and retries it: it is back on its
// original subject and gone from the dead letters.
func TestDeadCommands(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, "http://127.0.0.1:1", "")
	data := filepath.Join(dir, "data")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, data, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SyncAlways = false
	if err := a.Connect(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: bus.SubjectDead + ".extractor", Data: []byte(`{"url":"x"}`), Header: nats.Header{}}
	msg.Header.Set(bus.HeaderDeadStage, "extractor")
	msg.Header.Set(bus.HeaderDeadError, "unprocessable message: decoding page")
	msg.Header.Set(bus.HeaderDeadSubject, bus.SubjectPages+".simclassifieds")
	msg.Header.Set(bus.HeaderDeadTries, "1")
	if _, err := a.Bus.JS.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	a.Close()

	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(io.Discard)
		root.SetArgs(append([]string{"--config", cfgPath, "--data", data, "--no-sync"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	if out, err := run("dead", "list"); err != nil || !strings.Contains(out, "extractor") || !strings.Contains(out, "decoding page") {
		t.Fatalf("dead list: %v\n%s", err, out)
	}
	if _, err := run("dead", "retry"); err == nil {
		t.Errorf("dead retry without a choice retried")
	}
	if out, err := run("dead", "retry", "--stage", "extractor"); err != nil || !strings.Contains(out, "retried 1 (extractor, adwatch.pages.simclassifieds)") {
		t.Fatalf("dead retry: %v\n%s", err, out)
	}
	if out, err := run("dead", "list", "--json"); err != nil || out != "" {
		t.Errorf("dead list after retry: %v %q", err, out)
	}
	if err := a.Connect(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := a.Bus.JS.Stream(t.Context(), bus.StreamPages)
	if err != nil {
		t.Fatal(err)
	}
	last, err := m.GetLastMsgForSubject(t.Context(), bus.SubjectPages+".simclassifieds")
	if err != nil || string(last.Data) != `{"url":"x"}` {
		t.Errorf("the retried page on its subject: %v %v", last, err)
	}
}
