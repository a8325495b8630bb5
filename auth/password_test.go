package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	h := hashPassword("correct horse battery", testParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q: want the PHC argon2id encoding", h)
	}
	if h2 := hashPassword("correct horse battery", testParams); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password, hash string
		want           bool
		wantErr        bool
	}{
		{"correct horse battery", h, true, false},
		{"correct horse batterY", h, false, false},
		{"", h, false, false},
		{"correct horse battery", "", false, true},
		{"correct horse battery", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", false, true},
		{"correct horse battery", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5", false, true},
		{"correct horse battery", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", false, true},
	} {
		got, err := verifyPassword(tc.password, tc.hash)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("verifyPassword(%q, %q) = %v, %v; want %v, error %v", tc.password, tc.hash, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"twelve chars", true},
		{"eleven char", false},
		{"", false},
		{"ünïcödé pàss", true}, // 12 characters, more bytes
		{"my name is lee.k, ok", false},
		{strings.Repeat("x", MaxPasswordLen+1), false},
		{"bad utf-8 \xff\xfe!!", false},
	} {
		err := checkPassword("lee.k", tc.password)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrWeakPassword)) {
			t.Errorf("checkPassword(%q) = %v, want ok %v", tc.password, err, tc.ok)
		}
	}
}
