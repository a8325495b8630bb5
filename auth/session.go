package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How long a session lasts: IdleTimeout without use, MaxLifetime in all.
const (
	IdleTimeout = 30 * time.Minute
	MaxLifetime = 12 * time.Hour
)

// ErrNoSession is returned by Lookup for a token that names no live
// session: unknown, expired, revoked, or its user disabled or gone.
var ErrNoSession = errors.New("no session")

// Session is a login. It is stored under the SHA-256 of its token; the
// token itself is only ever in the client's hands.
type Session struct {
	User     string    `json:"user"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// tokenLen is the number of random bytes in a token.
const tokenLen = 32

// sessionKey is the key a token's session is stored under: the hex SHA-256
// of the token.
func sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewSession starts a session for u, authenticated at now, and returns
// its token (32 random bytes, base64url). Hand the token to the client
// only; it cannot be recovered from the store.
func (s *Store) NewSession(ctx context.Context, u User, now time.Time) (string, error) {
	if u.Disabled {
		return "", ErrDisabled
	}
	b := make([]byte, tokenLen)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	token := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(Session{User: u.Name, Role: u.Role, Created: now, LastSeen: now})
	if err != nil {
		return "", fmt.Errorf("encoding a session of %s: %w", u.Name, err)
	}
	if _, err := s.sessions.Create(ctx, sessionKey(token), data); err != nil {
		return "", fmt.Errorf("storing a session of %s: %w", u.Name, err)
	}
	return token, nil
}

// Lookup returns the live session of token at now and marks it used.
// ErrNoSession when there is none, when it has been idle IdleTimeout or
// lived MaxLifetime (it is then removed), or when its user is disabled or
// gone. The session's role is its user's current role.
func (s *Store) Lookup(ctx context.Context, token string, now time.Time) (Session, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenLen) {
		return Session{}, ErrNoSession
	}
	key := sessionKey(token)
	value, rev, err := s.read(ctx, s.sessions, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading a session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(value, &sess); err != nil {
		return Session{}, fmt.Errorf("decoding a session: %w", err)
	}
	if now.Sub(sess.LastSeen) >= IdleTimeout || now.Sub(sess.Created) >= MaxLifetime {
		return Session{}, s.end(ctx, key)
	}
	u, err := s.Get(ctx, sess.User)
	if errors.Is(err, ErrNotFound) || (err == nil && u.Disabled) {
		return Session{}, s.end(ctx, key)
	}
	if err != nil {
		return Session{}, err
	}
	sess.Role = u.Role
	if now.After(sess.LastSeen) {
		sess.LastSeen = now
		data, err := json.Marshal(sess)
		if err != nil {
			return Session{}, fmt.Errorf("encoding a session of %s: %w", sess.User, err)
		}
		// At the revision read: a session revoked meanwhile stays revoked,
		// and when a concurrent request refreshed it first, that is enough.
		_, err = s.sessions.Update(ctx, key, data, rev)
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Session{}, fmt.Errorf("refreshing a session of %s: %w", sess.User, err)
		}
	}
	return sess, nil
}

// end removes the session under key and returns ErrNoSession, or the
// error of removing it.
func (s *Store) end(ctx context.Context, key string) error {
	if err := s.sessions.Purge(ctx, key); err != nil {
		return fmt.Errorf("removing a session: %w", err)
	}
	return ErrNoSession
}

// Revoke ends the session of token (a logout); revoking an unknown token
// does nothing.
func (s *Store) Revoke(ctx context.Context, token string) error {
	if err := s.sessions.Purge(ctx, sessionKey(token)); err != nil {
		return fmt.Errorf("revoking a session: %w", err)
	}
	return nil
}
