package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExtractCommands(t *testing.T) {
	for _, tc := range []struct {
		cmd, in, want string
	}{
		{"phones", "call (510) 873-0123\nnothing here $200/hr\nfive1zero-8seven3-0one2three\n",
			"[\"+15108730123\"]\n[]\n[\"+15108730123\"]\n"},
		{"ages", "Age: 19\nwhen I was 16\ni'm twenty two\n", "[19]\n[]\n[22]\n"},
		{"phones", "\xff\xfe\n", "[]\n"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetIn(strings.NewReader(tc.in))
		root.SetOut(&out)
		root.SetArgs([]string{"extract", tc.cmd})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("extract %s on %q:\n got %q\nwant %q", tc.cmd, tc.in, out.String(), tc.want)
		}
	}
}
