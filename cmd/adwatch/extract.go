package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/adwatch/adwatch/extractor/age"
	"github.com/adwatch/adwatch/extractor/phone"
	"github.com/adwatch/adwatch/internal/app"
)

func extractCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "extract",
		Short: "Run the extractor stage alone against nats.url; or extract phones|ages from standard input",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.app(cmd)
			if err != nil {
				return err
			}
			return a.RunRoles(cmd.Context(), []string{app.RoleExtract}, false)
		},
	}
	var region string
	phones := &cobra.Command{
		Use:   "phones",
		Short: "Print, for each line of standard input, a JSON array of the phone numbers in it (E.164)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := phone.New(region)
			return eachLine(cmd.InOrStdin(), cmd.OutOrStdout(), func(s string) any {
				n := e.Numbers(s)
				if n == nil {
					n = []string{}
				}
				return n
			})
		},
	}
	phones.Flags().StringVar(&region, "region", "US", "region of numbers written without a country code")
	ages := &cobra.Command{
		Use:   "ages",
		Short: "Print, for each line of standard input, a JSON array of the stated ages in it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return eachLine(cmd.InOrStdin(), cmd.OutOrStdout(), func(s string) any {
				n := age.Find(s)
				if n == nil {
					n = []int{}
				}
				return n
			})
		},
	}
	c.AddCommand(phones, ages)
	return metricsFlag(c, g)
}

func eachLine(in io.Reader, out io.Writer, f func(string) any) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for sc.Scan() {
		if err := enc.Encode(f(sc.Text())); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	return nil
}
