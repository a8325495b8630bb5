package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/adwatch/adwatch/audit"
	"github.com/adwatch/adwatch/auth"
	"github.com/adwatch/adwatch/internal/app"
)

func userCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Accounts: add, list, disable, set a password (there is no default account)"}
	// trail is the audit log the account changes are written to.
	var trail *audit.Log
	// store connects and opens the accounts and the audit log; close the
	// app after.
	store := func(cmd *cobra.Command) (*app.App, *auth.Store, error) {
		a, err := g.connected(cmd, true)
		if err != nil {
			return nil, nil, err
		}
		s, err := auth.Open(cmd.Context(), a.Bus.JS, a.Config.NATS.Replicas)
		if err == nil {
			trail, err = audit.Open(cmd.Context(), a.Bus.JS, a.Config.Audit.Retention, a.Config.NATS.Replicas)
		}
		if err != nil {
			a.Close()
			return nil, nil, err
		}
		s.Log = a.Log.With("component", "auth")
		return a, s, nil
	}
	// record writes an account change to the audit log, under the
	// operating-system user who ran the command; a change whose entry
	// cannot be written is reported as an error.
	record := func(cmd *cobra.Command, name, what string, err error) error {
		outcome := audit.OutcomeOK
		if err != nil {
			outcome = audit.OutcomeFailed
		}
		if aerr := auditCLI(cmd, trail, audit.ActionUserChange, name, what, outcome); aerr != nil {
			return errors.Join(err, fmt.Errorf("writing the audit log: %w", aerr))
		}
		return err
	}

	var roleName string
	var addStdin, generate bool
	add := &cobra.Command{
		Use:   "add NAME --role analyst|investigator|supervisor|admin",
		Short: "Add an account; the password is asked on the terminal, or read from standard input with --password-stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			role, err := auth.ParseRole(roleName)
			if err != nil {
				return err
			}
			if err := auth.CheckName(name); err != nil {
				return err
			}
			var password string
			if generate {
				password = generatePassword()
			} else if password, err = readPassword(cmd, name, addStdin); err != nil {
				return err
			}
			a, s, err := store(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := record(cmd, name, "add "+string(role), s.Add(cmd.Context(), name, role, password)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s (%s)\n", name, role)
			if generate {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s (shown once; change it with adwatch user passwd %s)\n", password, name)
			}
			return nil
		},
	}
	add.Flags().StringVar(&roleName, "role", "", "analyst, investigator, supervisor or admin")
	add.Flags().BoolVar(&addStdin, "password-stdin", false, "read the password from the first line of standard input")
	add.Flags().BoolVar(&generate, "generate-password", false, "generate a random password and print it once")
	add.MarkFlagsMutuallyExclusive("password-stdin", "generate-password")
	_ = add.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts: name, role, disabled, locked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, s, err := store(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			users, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tDISABLED\tLOCKED")
			for _, u := range users {
				locked := "no"
				if u.Locked(now) {
					locked = "until " + u.LockedUntil.Local().Format(time.DateTime)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Role, yesNo(u.Disabled), locked)
			}
			return w.Flush()
		},
	}

	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable an account: it can no longer log in and its sessions end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, s, err := store(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := record(cmd, args[0], "disable", s.Disable(cmd.Context(), args[0])); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "disabled %s\n", args[0])
			return nil
		},
	}

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set an account's password (and lift a lockout)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := auth.CheckName(name); err != nil {
				return err
			}
			password, err := readPassword(cmd, name, passwdStdin)
			if err != nil {
				return err
			}
			a, s, err := store(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := record(cmd, name, "passwd", s.SetPassword(cmd.Context(), name, password)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the password of %s\n", name)
			return nil
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of standard input")

	c.AddCommand(add, list, disable, passwd)
	return c
}

// generatePassword returns 20 random characters from an alphabet without
// look-alikes (about 100 bits).
func generatePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// auditCLI writes what a command did to the audit log, under the
// operating-system user who ran it.
func auditCLI(cmd *cobra.Command, trail *audit.Log, action, object, query, outcome string) error {
	_, err := trail.Append(cmd.Context(), audit.Entry{At: time.Now().UTC(), User: cliOperator(), Role: "operator", From: "cli",
		Action: action, Object: object, Query: query, Outcome: outcome})
	return err
}

// cliOperator names who runs a command in the audit log: "os:" and the
// operating-system user.
func cliOperator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "os:" + u.Username
	}
	return "os:unknown"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// readPassword reads a new password for name: the first line of standard
// input with fromStdin, else twice on the terminal without echo. It is
// never printed.
func readPassword(cmd *cobra.Command, name string, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", errors.New("no password on standard input")
		}
		return password, nil
	}
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: give the password on standard input with --password-stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the password from the terminal: %w", err)
		}
		return string(b), nil
	}
	first, err := ask("new password for " + name + ": ")
	if err != nil {
		return "", err
	}
	again, err := ask("again: ")
	if err != nil {
		return "", err
	}
	if first != again {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}
