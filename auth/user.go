package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adwatch/adwatch/internal/bus"
)

// Bucket names.
const (
	BucketUsers    = "adwatch_users"
	BucketSessions = "adwatch_sessions"
)

// Lockout: MaxFailedLogins failed logins within LockoutWindow lock an
// account for LockoutDuration, whatever password comes next.
const (
	MaxFailedLogins = 5
	LockoutWindow   = 15 * time.Minute
	LockoutDuration = 15 * time.Minute
)

// Errors of the store. Authenticate gives ErrBadCredentials alike for an
// unknown user and a wrong password.
var (
	ErrExists         = errors.New("user exists")
	ErrNotFound       = errors.New("no such user")
	ErrBadName        = errors.New("user name not allowed")
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrLocked         = errors.New("account locked after repeated failed logins; try again later")
	ErrDisabled       = errors.New("account disabled")
)

// errContention is returned when a user's entry keeps changing under an
// update (many writers at once).
var errContention = errors.New("the entry kept changing; giving up")

// maxAttempts bounds the read-modify-write retries of one update.
const maxAttempts = 20

// User is an account.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is the PHC-encoded argon2id hash of the password.
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled,omitempty"`
	Created      time.Time `json:"created"`
	// Failed holds the recent failed logins, within LockoutWindow.
	Failed []time.Time `json:"failed,omitempty"`
	// LockedUntil is when a lockout ends (zero: never locked).
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

// Locked reports whether the account is locked out at now.
func (u User) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// Store holds the users and their sessions in JetStream key-value buckets.
type Store struct {
	users    jetstream.KeyValue
	sessions jetstream.KeyValue
	// js reads from a bucket's leader what a replica did not find.
	js jetstream.JetStream
	// Log receives lockouts and other security events (never a password
	// or a session token); nil discards them.
	Log *slog.Logger

	params hashParams
	// dummy is a hash to check a password against when there is no user,
	// so an unknown name costs what a wrong password costs.
	dummy func() string
}

// Open creates (or updates) the users and sessions buckets with the given
// replica count and returns the store on them.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	replicas = max(replicas, 1)
	users, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketUsers, Description: "adwatch accounts", Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("creating key-value bucket %s: %w", BucketUsers, err)
	}
	// The bucket's TTL removes the sessions nobody looks up again; Lookup
	// enforces the limits exactly.
	sessions, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketSessions, Description: "adwatch sessions by SHA-256 of their token", Storage: jetstream.FileStorage,
		Replicas: replicas, TTL: MaxLifetime,
	})
	if err != nil {
		return nil, fmt.Errorf("creating key-value bucket %s: %w", BucketSessions, err)
	}
	s := &Store{js: js, users: users, sessions: sessions, params: defaultParams}
	s.dummy = sync.OnceValue(func() string { return hashPassword("no such user: a dummy password", s.params) })
	return s, nil
}

// read returns the value of key in kv and its revision, asking the
// bucket's leader when a replica says it is not there
// (bus.GetConsistent): in a cluster a replica a moment behind does not yet
// know a session just opened or an account just added.
func (s *Store) read(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	return bus.GetConsistent(ctx, s.js, kv, key)
}

func (s *Store) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// CheckName returns an error wrapping ErrBadName unless name is 2 to 64
// lowercase ASCII letters, digits, '.', '-' or '_', beginning and ending
// with a letter or digit and without two dots in a row (a valid
// key-value key).
func CheckName(name string) error {
	if len(name) < 2 || len(name) > 64 {
		return fmt.Errorf("%w: %q: 2 to 64 characters", ErrBadName, name)
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '.' && c != '-' && c != '_' {
			return fmt.Errorf("%w: %q: only lowercase letters, digits, '.', '-' and '_'", ErrBadName, name)
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) || strings.Contains(name, "..") {
		return fmt.Errorf("%w: %q: begins and ends with a letter or digit, no two dots in a row", ErrBadName, name)
	}
	return nil
}

// Add creates a user with a role and a password (MinPasswordLen
// characters at least); ErrExists when the name is taken.
func (s *Store) Add(ctx context.Context, name string, role Role, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := checkPassword(name, password); err != nil {
		return err
	}
	u := User{Name: name, Role: role, PasswordHash: hashPassword(password, s.params), Created: time.Now().UTC()}
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encoding user %s: %w", name, err)
	}
	if _, err := s.users.Create(ctx, name, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("adding user %s: %w", name, ErrExists)
		}
		return fmt.Errorf("adding user %s: %w", name, err)
	}
	s.log().Info("user added", "user", name, "role", role)
	return nil
}

// Get returns the user called name; ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, name string) (User, error) {
	u, _, err := s.get(ctx, name)
	return u, err
}

// get returns the user and the revision it was read at.
func (s *Store) get(ctx context.Context, name string) (User, uint64, error) {
	if err := CheckName(name); err != nil {
		return User{}, 0, err
	}
	value, rev, err := s.read(ctx, s.users, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, 0, fmt.Errorf("reading user %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, 0, fmt.Errorf("reading user %s: %w", name, err)
	}
	var u User
	if err := json.Unmarshal(value, &u); err != nil {
		return User{}, 0, fmt.Errorf("decoding user %s: %w", name, err)
	}
	return u, rev, nil
}

// put writes u if its entry is still at revision rev; the error wraps
// jetstream.ErrKeyRevisionMismatch when it is not.
func (s *Store) put(ctx context.Context, u User, rev uint64) error {
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encoding user %s: %w", u.Name, err)
	}
	if _, err := s.users.Update(ctx, u.Name, data, rev); err != nil {
		return fmt.Errorf("writing user %s: %w", u.Name, err)
	}
	return nil
}

// modify reads the user, applies change and writes it back at the
// revision it read, again from the start when another writer came first.
func (s *Store) modify(ctx context.Context, name string, change func(*User)) error {
	for range maxAttempts {
		u, rev, err := s.get(ctx, name)
		if err != nil {
			return err
		}
		change(&u)
		err = s.put(ctx, u, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		return err
	}
	return fmt.Errorf("updating user %s: %w", name, errContention)
}

// List returns every user, by name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	kl, err := s.users.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	var names []string
	for k := range kl.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	users := make([]User, 0, len(names))
	for _, n := range names {
		u, err := s.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// Disable disables an account: it can no longer log in and its sessions
// stop working.
func (s *Store) Disable(ctx context.Context, name string) error {
	if err := s.modify(ctx, name, func(u *User) { u.Disabled = true }); err != nil {
		return err
	}
	s.log().Info("user disabled", "user", name)
	return nil
}

// SetPassword replaces a user's password and lifts a lockout.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := checkPassword(name, password); err != nil {
		return err
	}
	hash := hashPassword(password, s.params)
	if err := s.modify(ctx, name, func(u *User) {
		u.PasswordHash, u.Failed, u.LockedUntil = hash, nil, time.Time{}
	}); err != nil {
		return err
	}
	s.log().Info("password set", "user", name)
	return nil
}

// Authenticate checks a login at now. It returns the user when the
// password is right and the account neither locked nor disabled;
// ErrBadCredentials for an unknown user or a wrong password (both cost one
// hash), recording the failure; ErrLocked while locked out, even with the
// right password; ErrDisabled for a disabled account with the right
// password. The record of failures is updated at the revision it was read
// at, so concurrent logins never lose one.
func (s *Store) Authenticate(ctx context.Context, name, password string, now time.Time) (User, error) {
	var checked struct {
		hash string
		ok   bool
	}
	for range maxAttempts {
		u, rev, err := s.get(ctx, name)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadName) {
			_, _ = verifyPassword(password, s.dummy())
			return User{}, ErrBadCredentials
		}
		if err != nil {
			return User{}, err
		}
		if u.Locked(now) {
			_, _ = verifyPassword(password, s.dummy())
			return User{}, ErrLocked
		}
		if checked.hash != u.PasswordHash {
			ok, err := verifyPassword(password, u.PasswordHash)
			if err != nil {
				return User{}, fmt.Errorf("checking the password of %s: %w", name, err)
			}
			checked.hash, checked.ok = u.PasswordHash, ok
		}
		if checked.ok {
			if u.Disabled {
				return User{}, ErrDisabled
			}
			if len(u.Failed) == 0 && u.LockedUntil.IsZero() {
				return u, nil
			}
			u.Failed, u.LockedUntil = nil, time.Time{}
		} else {
			u.Failed = slices.DeleteFunc(u.Failed, func(t time.Time) bool { return now.Sub(t) >= LockoutWindow })
			u.Failed = append(u.Failed, now)
			if len(u.Failed) >= MaxFailedLogins {
				u.Failed, u.LockedUntil = nil, now.Add(LockoutDuration)
			}
		}
		err = s.put(ctx, u, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return User{}, fmt.Errorf("recording the login of %s: %w", name, err)
		}
		if checked.ok {
			return u, nil
		}
		if u.Locked(now) {
			s.log().Warn("account locked after repeated failed logins", "user", name, "until", u.LockedUntil)
		}
		return User{}, ErrBadCredentials
	}
	return User{}, fmt.Errorf("recording the login of %s: %w", name, errContention)
}
