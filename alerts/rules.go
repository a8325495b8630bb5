package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Entities a rule can apply to.
const (
	EntityAd      = "ad"
	EntityProfile = "profile"
	EntityPhone   = "phone"
	EntityCity    = "city"
)

// Severities, most severe first.
var Severities = []string{"critical", "high", "medium", "low"}

// SeverityRank orders severities: 0 is the most severe; unknown is last.
func SeverityRank(s string) int {
	if i := slices.Index(Severities, s); i >= 0 {
		return i
	}
	return len(Severities)
}

// RuleConfig is one rule as an analyst writes it in configs/alerts.yaml.
type RuleConfig struct {
	Name        string `yaml:"name"`
	Severity    string `yaml:"severity"`
	Description string `yaml:"description"`
	Entity      string `yaml:"entity"`
	// When is an expr-lang expression over the entity's facts (see
	// facts.go), for example profile.min_stated_age < 18.
	When string `yaml:"when"`
	// Off disables the rule.
	Off bool `yaml:"off"`
}

// File is configs/alerts.yaml.
type File struct {
	// WindowDays is the D of "within D days" in the facts.
	WindowDays int          `yaml:"window_days"`
	Rules      []RuleConfig `yaml:"rules"`
	Units      []Unit       `yaml:"units"`
	SMTP       SMTP         `yaml:"smtp"`
	// WebURL is where digest links point, the web UI's address.
	WebURL string `yaml:"web_url"`
}

// Rule is a compiled rule.
type Rule struct {
	RuleConfig
	program *vm.Program
}

// RuleError is a rule rejected at load, with its line in the file.
type RuleError struct {
	Line   int
	Rule   string
	Reason string
}

// Error says where the rule is and why it was rejected.
func (e RuleError) Error() string {
	return fmt.Sprintf("alerts.yaml line %d: rule %q: %s", e.Line, e.Rule, e.Reason)
}

// envFor returns an example environment of the entity, for compiling.
func envFor(entity string) (any, bool) {
	switch entity {
	case EntityAd:
		return Env{Ad: &AdFacts{}}, true
	case EntityProfile:
		return Env{Profile: &ProfileFacts{}}, true
	case EntityPhone:
		return Env{Phone: &PhoneFacts{}}, true
	case EntityCity:
		return Env{City: &CityFacts{}}, true
	}
	return nil, false
}

// ParseRules decodes the alerts file and compiles its rules. A bad rule is
// reported with its line and reason and left out; the others are returned.
// Only a file that does not decode at all is an error.
func ParseRules(data []byte) (File, []Rule, []RuleError, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, nil, nil, fmt.Errorf("decoding alerts config: %w", err)
	}
	// Lines of each rule, from the node tree.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	lines := ruleLines(&root)
	if f.WindowDays == 0 {
		f.WindowDays = 30
	}
	var rules []Rule
	var bad []RuleError
	seen := map[string]bool{}
	for i, rc := range f.Rules {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		fail := func(reason string) { bad = append(bad, RuleError{Line: line, Rule: rc.Name, Reason: reason}) }
		switch {
		case rc.Name == "":
			fail("no name")
			continue
		case seen[rc.Name]:
			fail("name used twice")
			continue
		case SeverityRank(rc.Severity) == len(Severities):
			fail(fmt.Sprintf("severity %q is not one of %s", rc.Severity, strings.Join(Severities, ", ")))
			continue
		}
		seen[rc.Name] = true
		env, ok := envFor(rc.Entity)
		if !ok {
			fail(fmt.Sprintf("entity %q is not one of ad, profile, phone, city", rc.Entity))
			continue
		}
		prog, err := expr.Compile(rc.When, expr.Env(env), expr.AsBool())
		if err != nil {
			fail(strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		if !rc.Off {
			rules = append(rules, Rule{RuleConfig: rc, program: prog})
		}
	}
	for i := range f.Units {
		if err := f.Units[i].validate(); err != nil {
			return File{}, nil, nil, err
		}
	}
	if f.SMTP.StartTLS == "" {
		f.SMTP.StartTLS = "mandatory"
	}
	if f.WebURL == "" {
		f.WebURL = "http://127.0.0.1:8080"
	}
	return f, rules, bad, nil
}

// LoadRules reads and parses the alerts file at path.
func LoadRules(path string) (File, []Rule, []RuleError, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, nil, nil, fmt.Errorf("reading alerts config: %w", err)
	}
	return ParseRules(data)
}

func ruleLines(root *yaml.Node) []int {
	if root == nil || len(root.Content) == 0 {
		return nil
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "rules" {
			var out []int
			for _, r := range doc.Content[i+1].Content {
				out = append(out, r.Line)
			}
			return out
		}
	}
	return nil
}

// Eval runs the rule on env.
func (r *Rule) Eval(env Env) (bool, error) {
	out, err := expr.Run(r.program, env)
	if err != nil {
		return false, fmt.Errorf("evaluating rule %s: %w", r.Name, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, errors.New("rule did not return a boolean")
	}
	return b, nil
}
