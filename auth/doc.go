// Package auth holds adwatch's accounts, roles and sessions: who may log
// in, what each role may see and do, and how long a login lasts.
//
// Roles are cumulative for casework (analyst, investigator, supervisor)
// and separate for administration (admin manages users, rules, units and
// reads the whole audit log, but is given no casework). Role.Can answers
// from one table.
//
// Users live in the JetStream key-value bucket adwatch_users, one entry per
// name, with an argon2id hash of the password; there is no default account
// and no default password. Five failed logins within LockoutWindow lock an
// account for LockoutDuration. Every change to a user is written with the
// revision it was read at, so concurrent logins never lose a failure.
//
// Sessions live in adwatch_sessions under the SHA-256 of their token, never
// the token itself, and end after IdleTimeout without use or MaxLifetime in
// all, when revoked, or when their user is disabled.
package auth
