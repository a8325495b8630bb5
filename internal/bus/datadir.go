package bus

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nats-io/nats-server/v2/server"
)

// Owner is the embedded NATS server of a data directory and the lock that
// makes its process the directory's only owner: two servers on one
// JetStream store would corrupt it.
type Owner struct {
	Server *server.Server
	lock   *os.File
	dir    string
}

// URLFile is the file under the data directory holding the client URL of
// the embedded server that owns it.
const URLFile = "nats.url"

// Open starts the embedded server of dir and takes the directory's lock;
// if another process already owns dir, it returns (nil, url of that
// process's server, nil) so that the caller connects to it instead. Either
// way clients authenticate with the data dir's Token. log (may be nil)
// receives the server's warnings.
func Open(dir string, syncAlways bool, log *slog.Logger) (*Owner, string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("creating data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "adwatch.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("opening the data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, "", fmt.Errorf("locking data dir %s: %w", dir, err)
		}
		url, rerr := os.ReadFile(filepath.Join(dir, URLFile))
		if rerr != nil || strings.TrimSpace(string(url)) == "" {
			return nil, "", fmt.Errorf("data dir %s is owned by another adwatch process that has not published its NATS address yet; try again", dir)
		}
		return nil, strings.TrimSpace(string(url)), nil
	}
	token, err := Token(dir)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	ns, err := Embedded(dir, syncAlways, token, log)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, URLFile), []byte(ns.ClientURL()+"\n"), 0o600); err != nil {
		ns.Shutdown()
		f.Close()
		return nil, "", fmt.Errorf("publishing the NATS address: %w", err)
	}
	return &Owner{Server: ns, lock: f, dir: dir}, ns.ClientURL(), nil
}

// TokenFile is the file under the data directory holding the token the
// embedded server requires of every client (owner-only).
const TokenFile = "nats.token"

// Token returns the data dir's NATS token, generating it (32 random
// bytes, readable by the owner only) the first time.
func Token(dir string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	data, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(data)) != "" {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading the NATS token: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the NATS token: %w", err)
	}
	return token, nil
}

// Close stops the server and releases the directory.
func (o *Owner) Close() {
	o.Server.Shutdown()
	o.Server.WaitForShutdown()
	_ = os.Remove(filepath.Join(o.dir, URLFile))
	_ = o.lock.Close()
}
