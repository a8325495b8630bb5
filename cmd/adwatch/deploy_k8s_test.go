package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sDir holds the Kubernetes manifests.
var k8sDir = filepath.Join(deployDir, "k8s")

// k8sObject is what the tests read of a Kubernetes object.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas    *int             `yaml:"replicas"`
		ServiceName string           `yaml:"serviceName"`
		ClusterIP   string           `yaml:"clusterIP"`
		Selector    map[string]any   `yaml:"selector"`
		PodSelector map[string]any   `yaml:"podSelector"`
		Ports       []k8sServicePort `yaml:"ports"`
		Ingress     []k8sIngressRule `yaml:"ingress"`
		Template    k8sPodTemplate   `yaml:"template"`
	} `yaml:"spec"`
}

type k8sServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type k8sIngressRule struct {
	From  []map[string]any `yaml:"from"`
	Ports []struct {
		Port int `yaml:"port"`
	} `yaml:"ports"`
}

type k8sEnv struct {
	Name      string         `yaml:"name"`
	Value     *string        `yaml:"value"`
	ValueFrom map[string]any `yaml:"valueFrom"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Containers []struct {
			Name    string   `yaml:"name"`
			Image   string   `yaml:"image"`
			Command []string `yaml:"command"`
			Args    []string `yaml:"args"`
			Env     []k8sEnv `yaml:"env"`
			Ports   []struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			} `yaml:"ports"`
			VolumeMounts []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
				SubPath   string `yaml:"subPath"`
			} `yaml:"volumeMounts"`
			Resources struct {
				Requests map[string]any `yaml:"requests"`
				Limits   map[string]any `yaml:"limits"`
			} `yaml:"resources"`
		} `yaml:"containers"`
		Volumes []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

// readManifests reads every object of the YAML files of deploy/k8s but
// kustomization.yaml, each document decoded.
func readManifests(t *testing.T) (files []string, objs []k8sObject) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		files = append(files, p)
		dec := yaml.NewDecoder(bytes.NewReader(readFile(t, p)))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if o.Kind != "" {
				objs = append(objs, o)
			}
		}
	}
	if len(objs) < 10 {
		t.Fatalf("deploy/k8s: %d objects in %v", len(objs), files)
	}
	return files, objs
}

// TestDeployKubernetes keeps deploy/k8s honest: the manifests validate
// against the Kubernetes API's types (deploy/k8s/validate, strict: an
// unknown field is an error); kustomization.yaml lists them all; each role
// runs in one Deployment (extract in two replicas or more, the single roles
// in one) with a command and flags the binary has and a config from the
// ConfigMap that loads as installed; the addresses agree (metrics.addr and
// the pods' metrics port, serve.addr and the serve Service, send's
// serve.addr and serve.names); NATS is a three-node StatefulSet behind a
// headless Service that nats.url names, with deploy/nats's accounts and a
// config nats-server accepts (when installed); only the adwatch pods and
// the NATS nodes may reach NATS; no Secret and no literal secret is
// committed; every container has resource requests and limits.
func TestDeployKubernetes(t *testing.T) {
	files, objs := readManifests(t)
	byKind := func(kind string) []k8sObject {
		var out []k8sObject
		for _, o := range objs {
			if o.Kind == kind {
				out = append(out, o)
			}
		}
		return out
	}
	find := func(kind, name string) *k8sObject {
		for i := range objs {
			if objs[i].Kind == kind && objs[i].Metadata.Name == name {
				return &objs[i]
			}
		}
		t.Fatalf("deploy/k8s: no %s %s", kind, name)
		return nil
	}

	t.Run("schemas", func(t *testing.T) { validateManifests(t, files) })

	t.Run("kustomization", func(t *testing.T) {
		var k struct {
			Namespace string   `yaml:"namespace"`
			Resources []string `yaml:"resources"`
		}
		if err := yaml.Unmarshal(readFile(t, filepath.Join(k8sDir, "kustomization.yaml")), &k); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range files {
			want = append(want, filepath.Base(f))
		}
		got := slices.Sorted(slices.Values(k.Resources))
		if !slices.Equal(got, want) {
			t.Errorf("kustomization.yaml resources %v, want every manifest %v", got, want)
		}
		for _, o := range objs {
			if o.Kind != "Namespace" && o.Metadata.Namespace != k.Namespace {
				t.Errorf("%s %s: namespace %q, want %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace, k.Namespace)
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		if s := byKind("Secret"); len(s) > 0 {
			t.Errorf("a Secret is committed (%s): create it by hand (docs/deploy.md)", s[0].Metadata.Name)
		}
		secret := regexp.MustCompile(`PASSWORD|TOKEN|CREDS|SECRET`)
		for _, kind := range []string{"Deployment", "StatefulSet"} {
			for _, o := range byKind(kind) {
				for _, c := range o.Spec.Template.Spec.Containers {
					for _, e := range c.Env {
						if secret.MatchString(e.Name) && e.ValueFrom["secretKeyRef"] == nil {
							t.Errorf("%s %s: %s is not read from a Secret", kind, o.Metadata.Name, e.Name)
						}
					}
					if c.Resources.Requests["cpu"] == nil || c.Resources.Requests["memory"] == nil || c.Resources.Limits["memory"] == nil {
						t.Errorf("%s %s: container %s lacks cpu and memory requests or a memory limit", kind, o.Metadata.Name, c.Name)
					}
				}
			}
		}
	})

	t.Run("roles", func(t *testing.T) {
		serve := find("Service", "adwatch-serve")
		roles := map[string]int{}
		for _, d := range byKind("Deployment") {
			where := "Deployment " + d.Metadata.Name
			if len(d.Spec.Template.Spec.Containers) != 1 {
				t.Errorf("%s: want one container", where)
				continue
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != "adwatch:latest" {
				t.Errorf("%s: image %q, want adwatch:latest (kustomization.yaml sets the real one)", where, c.Image)
			}
			cmd, cfgPath := checkCommand(t, where, c.Args)
			checkMemoryLimit(t, where, c.Resources.Limits["memory"], c.Env)
			if cfgPath == "" {
				continue
			}
			replicas := 1
			if d.Spec.Replicas != nil {
				replicas = *d.Spec.Replicas
			}
			roles[cmd] += replicas
			if got := d.Spec.Template.Metadata.Labels["app.kubernetes.io/component"]; got != cmd {
				t.Errorf("%s: component label %q, runs %s", where, got, cmd)
			}
			// The config: a key of a ConfigMap mounted at --config.
			var src string
			for _, m := range c.VolumeMounts {
				if m.MountPath != cfgPath {
					continue
				}
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil {
						data, ok := find("ConfigMap", v.ConfigMap.Name).Data[m.SubPath]
						if !ok {
							t.Errorf("%s: ConfigMap %s has no %s", where, v.ConfigMap.Name, m.SubPath)
						}
						src = filepath.Join(t.TempDir(), m.SubPath)
						if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if src == "" {
				t.Errorf("%s: --config %s is not mounted from a ConfigMap", where, cfgPath)
				continue
			}
			cfg, ok := loadInstalled(t, src, filepath.Base(cfgPath))
			if !ok {
				continue
			}
			checkRoleConfig(t, where, cmd, cfg)
			if cfg.NATS.User != "" && !slices.ContainsFunc(c.Env, func(e k8sEnv) bool { return e.Name == "ADWATCH_NATS_PASSWORD" }) {
				t.Errorf("%s: nats.user %q but no ADWATCH_NATS_PASSWORD", where, cfg.NATS.User)
			}
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if _, port, err := net.SplitHostPort(cfg.Metrics.Addr); err != nil || port != strconv.Itoa(ports["metrics"]) {
				t.Errorf("%s: metrics.addr %q, container port metrics %d", where, cfg.Metrics.Addr, ports["metrics"])
			}
			host, port, err := net.SplitHostPort(cfg.Serve.Addr)
			if err != nil {
				t.Errorf("%s: serve.addr %q: %v", where, cfg.Serve.Addr, err)
				continue
			}
			switch cmd {
			case "serve":
				if len(serve.Spec.Ports) != 1 || port != strconv.Itoa(ports["https"]) || serve.Spec.Ports[0].TargetPort != "https" {
					t.Errorf("%s: serve.addr %s, container port https %d, Service adwatch-serve %+v", where, cfg.Serve.Addr, ports["https"], serve.Spec.Ports)
				}
				if cfg.Serve.TLSCert == "" {
					t.Errorf("%s: serve beyond loopback without TLS", where)
				}
				if !slices.Contains(cfg.Serve.Names, serve.Metadata.Name) {
					t.Errorf("%s: serve.names %v lacks %s, the name send's requests use", where, cfg.Serve.Names, serve.Metadata.Name)
				}
			case "send":
				if host != serve.Metadata.Name || len(serve.Spec.Ports) != 1 || port != strconv.Itoa(serve.Spec.Ports[0].Port) {
					t.Errorf("%s: serve.addr %s is not the Service adwatch-serve's %+v", where, cfg.Serve.Addr, serve.Spec.Ports)
				}
			}
		}
		for _, r := range roleCommands() {
			if roles[r] == 0 {
				t.Errorf("no Deployment runs adwatch %s", r)
			}
		}
		for _, r := range []string{"index", "alerts", "send", "crawl", "serve"} {
			if roles[r] > 1 {
				t.Errorf("%d replicas run adwatch %s; it must be single", roles[r], r)
			}
		}
		if roles["extract"] < 2 {
			t.Errorf("%d extract replicas, want two or more", roles["extract"])
		}
	})

	t.Run("nats", func(t *testing.T) {
		sts := find("StatefulSet", "nats")
		svc := find("Service", sts.Spec.ServiceName)
		if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
			t.Errorf("StatefulSet nats: replicas %v, want 3", sts.Spec.Replicas)
		}
		if svc.Spec.ClusterIP != "None" {
			t.Errorf("Service %s: clusterIP %q, want None (headless: one name per node)", svc.Metadata.Name, svc.Spec.ClusterIP)
		}
		var want []string
		for i := range 3 {
			want = append(want, "nats://nats-"+strconv.Itoa(i)+"."+svc.Metadata.Name+":4222")
		}
		for key, text := range find("ConfigMap", "adwatch-config").Data {
			var c struct {
				NATS struct {
					URL string `yaml:"url"`
				} `yaml:"nats"`
			}
			if err := yaml.Unmarshal([]byte(text), &c); err != nil {
				t.Fatalf("ConfigMap adwatch-config %s: %v", key, err)
			}
			if got := strings.Split(c.NATS.URL, ","); !slices.Equal(got, want) {
				t.Errorf("ConfigMap adwatch-config %s: nats.url %q, want the three nodes %v", key, c.NATS.URL, want)
			}
		}
		cm := find("ConfigMap", "nats-config")
		if got, want := cm.Data["accounts.conf"], string(readFile(t, filepath.Join(deployDir, "nats", "accounts.conf"))); got != want {
			t.Error("ConfigMap nats-config: accounts.conf differs from deploy/nats/accounts.conf")
		}
		conf := cm.Data["nats.conf"]
		for _, w := range []string{"max_payload: 16MB", "nats-route://nats-0.nats:6222", "nats-route://nats-2.nats:6222", "include ./accounts.conf"} {
			if !strings.Contains(conf, w) {
				t.Errorf("nats.conf lacks %q", w)
			}
		}
		bin, err := exec.LookPath("nats-server")
		if err != nil {
			t.Skip("nats-server not installed (make tools): nats.conf not checked with -t")
		}
		dir := t.TempDir()
		for name, text := range cm.Data {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "-c", filepath.Join(dir, "nats.conf"), "-t")
		cmd.Env = append(os.Environ(), "SERVER_NAME=nats-0", "ADWATCH_NATS_PASSWORD=p", "NATS_OPERATOR_PASSWORD=p", "NATS_SYS_PASSWORD=p")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nats-server -t on ConfigMap nats-config: %v\n%s", err, out)
		}
	})

	t.Run("network policies", func(t *testing.T) {
		var natsPolicy *k8sObject
		for _, p := range byKind("NetworkPolicy") {
			if p.Spec.PodSelector == nil {
				t.Errorf("NetworkPolicy %s: no podSelector", p.Metadata.Name)
			}
			if len(p.Spec.PodSelector) == 0 && len(p.Spec.Ingress) > 0 {
				t.Errorf("NetworkPolicy %s lets traffic into every pod", p.Metadata.Name)
			}
			if ml, _ := p.Spec.PodSelector["matchLabels"].(map[string]any); ml["app.kubernetes.io/name"] == "nats" {
				natsPolicy = &p
			}
		}
		if natsPolicy == nil {
			t.Fatal("no NetworkPolicy selects the NATS pods")
		}
		// Port 4222 only from the adwatch pods and the nodes themselves.
		for _, r := range natsPolicy.Spec.Ingress {
			client := len(r.Ports) == 0
			for _, p := range r.Ports {
				client = client || p.Port == 4222
			}
			if !client {
				continue
			}
			if len(r.From) == 0 {
				t.Error("NetworkPolicy nats lets anyone reach the client port")
			}
			for _, f := range r.From {
				ps, _ := f["podSelector"].(map[string]any)
				ml, _ := ps["matchLabels"].(map[string]any)
				if name := ml["app.kubernetes.io/name"]; f["namespaceSelector"] != nil || (name != "adwatch" && name != "nats") {
					t.Errorf("NetworkPolicy nats lets %v reach the client port; only adwatch's pods and the nodes may", f)
				}
			}
		}
		if len(byKind("NetworkPolicy")) < 2 {
			t.Error("want a default deny and the NATS policy at least")
		}
	})
}

// validateManifests checks files against the Kubernetes API's types with
// deploy/k8s/validate: the installed adwatch-k8s-validate (make tools,
// .ci/run), else go run of the module when CI is set.
func validateManifests(t *testing.T, files []string) {
	t.Helper()
	var cmd *exec.Cmd
	if bin, err := exec.LookPath("adwatch-k8s-validate"); err == nil {
		cmd = exec.Command(bin, files...)
	} else if os.Getenv("CI") != "" {
		abs := make([]string, len(files))
		for i, f := range files {
			abs[i], _ = filepath.Abs(f)
		}
		cmd = exec.Command("go", append([]string{"run", "."}, abs...)...)
		cmd.Dir = filepath.Join(k8sDir, "validate")
	} else {
		t.Skip("adwatch-k8s-validate not installed (make tools): manifests not checked against the API's types")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validating deploy/k8s: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n"); n < 10 {
		t.Errorf("validated %d objects:\n%s", n, out)
	}
}

// checkMemoryLimit checks that a container with a memory limit gives the Go
// runtime a soft limit (GOMEMLIMIT) below it, leaving room for what lives
// outside the heap (the photo band tables, the mapped index): without one
// the heap grows to twice what is live and the container is killed.
func checkMemoryLimit(t *testing.T, where string, limit any, env []k8sEnv) {
	t.Helper()
	s, _ := limit.(string)
	if s == "" {
		t.Errorf("%s: no memory limit", where)
		return
	}
	container, err := k8sBytes(s)
	if err != nil {
		t.Errorf("%s: memory limit %q: %v", where, s, err)
		return
	}
	i := slices.IndexFunc(env, func(e k8sEnv) bool { return e.Name == "GOMEMLIMIT" })
	if i < 0 || env[i].Value == nil {
		t.Errorf("%s: memory limit %s but no GOMEMLIMIT value", where, s)
		return
	}
	soft, err := k8sBytes(strings.TrimSuffix(*env[i].Value, "B"))
	switch {
	case err != nil:
		t.Errorf("%s: GOMEMLIMIT %q: %v", where, *env[i].Value, err)
	case soft > container*9/10 || soft < container/2:
		t.Errorf("%s: GOMEMLIMIT %s is not between half and 90%% of the memory limit %s", where, *env[i].Value, s)
	}
}

// k8sBytes reads a quantity in Ki, Mi or Gi ("819Mi"; GOMEMLIMIT's "819MiB"
// with its B cut).
func k8sBytes(q string) (int64, error) {
	for i, unit := range []string{"Ki", "Mi", "Gi"} {
		if n, ok := strings.CutSuffix(q, unit); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v << (10 * (i + 1)), err
		}
	}
	return 0, errors.New("not a quantity in Ki, Mi or Gi")
}
