// Command validate checks Kubernetes manifests offline against the API's
// own Go types: each document of each file named on the command line is
// decoded strictly (an unknown or duplicated field is an error) into the
// typed object of its apiVersion and kind, as the API server's schema
// would, with no cluster and no schema download. Of a workload's pod
// template it also checks what the API server would refuse: a selector
// that does not select the template, a volume mount or a probe's port that
// names nothing. It is a module of its own so that adwatch itself never
// depends on the Kubernetes libraries.
//
//	go run . ../*.yaml
//
// It prints one line per object and exits 1 on the first file with an
// error after reporting every error.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE.yaml...")
		os.Exit(2)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	failed := false
	for _, path := range os.Args[1:] {
		objs, err := validateFile(decoder, path)
		for _, o := range objs {
			fmt.Printf("%s: %s\n", path, o)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// separator splits a YAML stream into its documents.
var separator = regexp.MustCompile(`(?m)^---\s*$`)

// validateFile decodes every document of path strictly, returning the
// objects it holds ("Kind/name") and every error.
func validateFile(decoder runtime.Decoder, path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []string
	var errs []error
	for i, doc := range separator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		obj, gvk, err := decoder.Decode(js, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		if gvk.Version == "" || gvk.Kind == "" {
			errs = append(errs, fmt.Errorf("document %d: no apiVersion or kind", i+1))
			continue
		}
		meta, ok := obj.(interface{ GetName() string })
		if !ok || meta.GetName() == "" {
			errs = append(errs, fmt.Errorf("document %d: %s has no metadata.name", i+1, gvk.Kind))
			continue
		}
		if err := checkWorkload(obj); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %s %s: %w", i+1, gvk.Kind, meta.GetName(), err))
		}
		objs = append(objs, gvk.Kind+"/"+meta.GetName())
	}
	if len(objs) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no Kubernetes object"))
	}
	return objs, errors.Join(errs...)
}

// stripComments drops the comment lines of doc.
func stripComments(doc string) string {
	var b bytes.Buffer
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// checkWorkload checks the pod template of a Deployment or StatefulSet:
// its selector selects it, and every volume mount and named probe port
// names a volume and a port of the pod.
func checkWorkload(obj runtime.Object) error {
	var sel *metav1.LabelSelector
	var tmpl corev1.PodTemplateSpec
	claims := map[string]bool{}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		sel, tmpl = o.Spec.Selector, o.Spec.Template
	case *appsv1.StatefulSet:
		sel, tmpl = o.Spec.Selector, o.Spec.Template
		for _, c := range o.Spec.VolumeClaimTemplates {
			claims[c.Name] = true
		}
	default:
		return nil
	}
	var errs []error
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil || s.Empty() {
		errs = append(errs, fmt.Errorf("selector %v: %v", sel, err))
	} else if !s.Matches(labels.Set(tmpl.Labels)) {
		errs = append(errs, fmt.Errorf("selector %s does not select the template's labels %v", s, tmpl.Labels))
	}
	volumes := claims
	for _, v := range tmpl.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(tmpl.Spec.InitContainers, tmpl.Spec.Containers...) {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = p.Name != ""
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				errs = append(errs, fmt.Errorf("container %s mounts %q, which is no volume of the pod", c.Name, m.Name))
			}
		}
		for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil {
				continue
			}
			var port string
			switch {
			case p.HTTPGet != nil:
				port = p.HTTPGet.Port.StrVal
			case p.TCPSocket != nil:
				port = p.TCPSocket.Port.StrVal
			}
			if port != "" && !ports[port] {
				errs = append(errs, fmt.Errorf("container %s: the %s probe's port %q is none of its ports", c.Name, kind, port))
			}
		}
		if c.Resources.Requests == nil || c.Resources.Limits == nil {
			errs = append(errs, fmt.Errorf("container %s has no resource requests or limits", c.Name))
		}
	}
	return errors.Join(errs...)
}
