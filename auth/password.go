package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length limits, in characters; the upper one keeps a hash from
// being made to cost more than it should.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// ErrWeakPassword is returned for a password that breaks the rules.
var ErrWeakPassword = errors.New("password not allowed")

// checkPassword applies the rules to a new password for user name.
func checkPassword(name, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: not valid UTF-8", ErrWeakPassword)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: %d characters, at least %d needed", ErrWeakPassword, n, MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("%w: more than %d characters", ErrWeakPassword, MaxPasswordLen)
	case strings.Contains(strings.ToLower(password), name):
		return fmt.Errorf("%w: it contains the user name", ErrWeakPassword)
	}
	return nil
}

// hashParams are argon2id's cost parameters.
type hashParams struct {
	time    uint32
	memory  uint32 // KiB
	threads uint8
}

// defaultParams is RFC 9106's second recommended setting: 3 passes over
// 64 MiB with 4 lanes.
var defaultParams = hashParams{time: 3, memory: 64 * 1024, threads: 4}

const (
	saltLen = 16
	keyLen  = 32
)

// hashPassword returns the PHC-encoded argon2id hash of password with a
// fresh random salt: $argon2id$v=19$m=65536,t=3,p=4$salt$hash.
func hashPassword(password string, p hashParams) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand since Go 1.24)
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// errBadHash is returned for a stored hash that does not decode.
var errBadHash = errors.New("malformed password hash")

// verifyPassword reports whether password matches the encoded hash, in
// time that does not depend on where they differ.
func verifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p hashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil ||
		p.time == 0 || p.threads == 0 || p.memory > 1<<22 || p.time > 64 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
