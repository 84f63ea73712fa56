// Package config is the configuration of `dccgate serve`: one YAML file,
// then DCCGATE_* environment variables, then flags, each overriding the one
// before. Every key has one name in all three: the file's key `log.format`
// is DCCGATE_LOG_FORMAT and --log-format. Load validates the result and its
// errors name the key and where its value came from; Print shows the
// effective configuration with secrets masked.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the configuration of a gateway process.
type Config struct {
	Data         string      `yaml:"data" flag:"data" usage:"data directory (SQLite file, local PKI)"`
	Store        string      `yaml:"store" flag:"store" secret:"url" usage:"store URL: sqlite:///path/file.db (default: DATA/dccgate.db) or postgres://..."`
	Listen       string      `yaml:"listen" flag:"listen" usage:"address to serve HTTPS (Connect, gRPC, gRPC-Web) on"`
	H2CListen    string      `yaml:"h2c_listen" flag:"h2c-listen" usage:"also serve HTTP/2 without TLS here, for a TLS-terminating proxy that forwards the client certificate"`
	AdminListen  string      `yaml:"admin_listen" flag:"admin-listen" usage:"serve /metrics, /healthz, /readyz and OpsService (reload) here; plain HTTP on loopback, else HTTPS with the admin certificate (empty: off)"`
	SSIListen    string      `yaml:"ssi_listen" flag:"ssi-listen" usage:"serve the Self-Service Interface (web pages for users) here over HTTPS; a client certificate is optional (empty: off)"`
	SSISessions  int         `yaml:"ssi_max_sessions" flag:"ssi-max-sessions" usage:"concurrent SSI sessions per user, below the spec's limit (0: the spec's)"`
	VirtualClock bool        `yaml:"virtual_clock" flag:"virtual-clock" usage:"run on a virtual clock and serve the AdminService (tests, scenario runs)"`
	Start        string      `yaml:"start" flag:"start" usage:"virtual clock start (RFC 3339), with --virtual-clock"`
	Demo         int         `yaml:"demo" flag:"demo" usage:"premises of the demo world loaded into an empty store (0: none)"`
	Workers      int         `yaml:"workers" flag:"workers" usage:"request workers"`
	MaxInFlight  int         `yaml:"max_in_flight" flag:"max-in-flight" usage:"most requests the process holds at once (Submits being checked plus acknowledged requests queued or executing); a Submit beyond it waits up to admission_wait, then is refused GATEWAY_BUSY, not received (-1: no bound)"`
	AdmitWait    Duration    `yaml:"admission_wait" flag:"admission-wait" usage:"how long a Submit that finds max_in_flight reached waits for room before it is refused GATEWAY_BUSY"`
	Spec         string      `yaml:"spec" flag:"spec" usage:"spec directory (default: the embedded spec); read again on reload"`
	Policy       string      `yaml:"policy" flag:"policy" usage:"policy directory of .rego modules (default: the embedded ones); read again on reload"`
	Traffic      bool        `yaml:"traffic_management" flag:"traffic-management" usage:"turn on the traffic management policy of para 273 (defer or refuse non-critical requests over load; max_in_flight must then be above its defer_at_in_flight)"`
	Grace        Duration    `yaml:"grace" flag:"grace" usage:"on SIGTERM, how long work in flight may run before it is parked in the store for the next start"`
	Lease        Duration    `yaml:"lease" flag:"lease" usage:"on a shared store (PostgreSQL), how long a process's claim on a request holds without renewal: another process takes over the work of one that died after this (0: a third of the spec's shortest on-demand target response time, 10s)"`
	Anomaly      string      `yaml:"anomaly" flag:"anomaly" usage:"anomaly-detection thresholds (para 134-135, footnote 14), comma-separated SERVICE[@ROLE]=MAX/PER, e.g. 4.1@EIS=1000/1h,6.15=10/24h: a user's requests of the service (a row key such as 1.1.1, or a reference counting all its rows), by users of the role or of every role, past MAX within any PER are quarantined (empty: none)"`
	AlertAnomaly string      `yaml:"alert_anomaly" flag:"alert-anomaly" usage:"anomaly-detection thresholds on each device's alerts (para 136, footnote 14), comma-separated CODE=MAX/PER, CODE an alert code or * for every alert, e.g. *=100/1h,A23=20/1h: a device's alerts past MAX within any PER are quarantined, kept and not sent on (empty: none)"`
	ServiceDesk  ServiceDesk `yaml:"service_desk"`
	Log          Log         `yaml:"log"`
	SMWAN        SMWAN       `yaml:"smwan"`
	Tracing      Tracing     `yaml:"tracing"`
	GC           GC          `yaml:"gc"`
}

// ServiceDesk is how DCC Users and SEC Parties reach the DCC's Service
// Desk besides the Self-Service Interface (para 255): the SSI shows them
// on its Service Desk pages and on the incident report form. serve checks
// them against the spec's service_desk.contact_patterns.
type ServiceDesk struct {
	Telephone string `yaml:"telephone" flag:"service-desk-telephone" usage:"the Service Desk's telephone number, shown on the SSI's Service Desk pages and incident report form (para 255; empty: none shown, or the demo's example with the demo world)"`
	Email     string `yaml:"email" flag:"service-desk-email" usage:"the Service Desk's email address, shown with its telephone (para 255)"`
}

// Log configures the log.
type Log struct {
	Format string `yaml:"format" flag:"log-format" usage:"log format: auto (JSON unless stderr is a terminal), json or text"`
	Level  string `yaml:"level" flag:"log-level" usage:"log level: debug, info, warn or error"`
}

// SMWAN configures the emulated SMWAN.
type SMWAN struct {
	Latency Duration `yaml:"latency" flag:"smwan-latency" usage:"latency of every Command over the emulated SMWAN (on the gateway's clock)"`
	Loss    float64  `yaml:"loss" flag:"smwan-loss" usage:"share of Commands the emulated SMWAN loses on their way to the device (0 to 1)"`
	// AnswerLoss: the device runs the Command and its answer is lost.
	AnswerLoss float64  `yaml:"answer_loss" flag:"smwan-answer-loss" usage:"share of Commands that run on their device and whose answer the emulated SMWAN loses (0 to 1): the gateway times out and sends the Command again, which the device answers again without running it twice"`
	Timeout    Duration `yaml:"timeout" flag:"smwan-timeout" usage:"how long the gateway waits for a device's answer to one Command (wall time)"`
	Retries    int      `yaml:"retries" flag:"smwan-retries" usage:"how many times a Command lost, timed out or finding its hub down is sent again before the request fails with SMWAN_UNAVAILABLE"`
	// RetryLater is for the requests whose target response time is hours
	// (future dated: 24 hours): a Command still undelivered
	// after Retries is tried again this much later on the gateway's clock
	// while the target allows, so a hub that is off for an hour does not
	// fail a request it has a day to answer.
	RetryLater Duration `yaml:"retry_later" flag:"smwan-retry-later" usage:"for future dated requests: how long after the SMWAN failed to deliver a Command it is tried again, while the request's target response time allows (0: never; it fails with SMWAN_UNAVAILABLE at once)"`
}

// Tracing configures OpenTelemetry traces.
type Tracing struct {
	Endpoint    string            `yaml:"endpoint" flag:"otlp-endpoint" secret:"url" usage:"OTLP/HTTP collector URL for traces, e.g. http://127.0.0.1:4318 (empty: tracing off)"`
	Headers     map[string]string `yaml:"headers" secret:"values" usage:"headers sent with every export (env: k=v,k2=v2)"`
	SampleRatio float64           `yaml:"sample_ratio" flag:"trace-sample-ratio" usage:"share of traces kept (0 to 1)"`
}

// GC sets the Go garbage collector: memory traded for CPU. GOGC and
// GOMEMLIMIT, where set, take precedence (the Go runtime's own variables).
type GC struct {
	Percent     int    `yaml:"percent" flag:"gc-percent" usage:"heap growth between collections, in percent of the live heap (Go's GOGC; -1: collect only at memory_limit); GOGC, if set, wins"`
	MemoryLimit string `yaml:"memory_limit" flag:"memory-limit" usage:"soft limit of the process's Go memory (Go's GOMEMLIMIT, e.g. 768MiB or 2GiB; off: none); the collector works harder near it; GOMEMLIMIT, if set, wins"`
}

// Duration is a time.Duration written as Go writes it ("30s", "1h").
type Duration time.Duration

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats the duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Default returns the configuration before any file, variable or flag.
func Default() Config {
	data := "data"
	return Config{
		Data:    data,
		Listen:  "127.0.0.1:8443",
		Start:   "2026-01-05T09:00:00Z",
		Demo:    10,
		Workers: 64, // as gateway.DefaultWorkers
		// as gateway.DefaultMaxInFlight and DefaultAdmissionWait
		MaxInFlight: 512,
		AdmitWait:   Duration(250 * time.Millisecond),
		Grace:       Duration(30 * time.Second),
		SMWAN:       SMWAN{Timeout: Duration(8 * time.Second), Retries: 2, RetryLater: Duration(15 * time.Minute)}, // as gateway.DefaultRetryLater
		Log:         Log{Format: "auto", Level: "info"},
		Tracing:     Tracing{SampleRatio: 1},
		// Collecting at 4x the live heap, not Go's 2x, cost 12 to 15%
		// less CPU a request under load; the limit keeps a large
		// inventory's heap (a million systems) under a gigabyte.
		GC: GC{Percent: 400, MemoryLimit: "768MiB"},
	}
}

// EnvPrefix prefixes every environment variable.
const EnvPrefix = "DCCGATE_"

// ConfigEnv names the configuration file when --config is not given.
const ConfigEnv = "DCCGATE_CONFIG"

// field is one key of the configuration.
type field struct {
	key    string // log.format
	env    string // DCCGATE_LOG_FORMAT
	flag   string // log-format
	usage  string
	secret string // "", "url", "values"
	index  []int
	typ    reflect.Type
}

var durationType = reflect.TypeFor[Duration]()

// fields lists every key of Config in declaration order.
func fields() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			key := prefix + sf.Tag.Get("yaml")
			idx := append(append([]int{}, index...), i)
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, key+".", idx)
				continue
			}
			out = append(out, field{key: key, env: EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")), flag: sf.Tag.Get("flag"),
				usage: sf.Tag.Get("usage"), secret: sf.Tag.Get("secret"), index: idx, typ: sf.Type})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// Keys lists the configuration keys.
func Keys() []string {
	var ks []string
	for _, f := range fields() {
		ks = append(ks, f.key)
	}
	return ks
}

// set parses s into the field of c.
func (f field) set(c *Config, s string) error {
	v := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch {
	case f.typ == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (such as 30s or 2m)", s)
		}
		v.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		v.SetString(s)
	case f.typ.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case f.typ.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(int64(n))
	case f.typ.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(x)
	case f.typ.Kind() == reflect.Map:
		m := map[string]string{}
		for _, kv := range strings.Split(s, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q: want key=value pairs separated by commas", kv)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		v.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported type %s", f.typ)
	}
	return nil
}

// get formats the field of c, masking secrets when mask is set.
func (f field) get(c *Config, mask bool) any {
	v := reflect.ValueOf(c).Elem().FieldByIndex(f.index)
	switch {
	case f.typ == durationType:
		return Duration(v.Int()).String()
	case f.typ.Kind() == reflect.Map:
		out := map[string]string{}
		for _, k := range v.MapKeys() {
			val := v.MapIndex(k).String()
			if mask && f.secret == "values" {
				val = Masked
			}
			out[k.String()] = val
		}
		return out
	case f.typ.Kind() == reflect.String && mask && f.secret == "url":
		return MaskURL(v.String())
	}
	return v.Interface()
}

// Masked stands for a secret in printed configuration.
const Masked = "****"

// MaskURL hides the password (and any query string, where tokens travel)
// of a URL.
func MaskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	q := u.Query()
	for k := range q {
		if isSecretParam(k) {
			q.Set(k, Masked)
		}
	}
	u.RawQuery = q.Encode()
	return strings.Replace(u.String(), url.QueryEscape(Masked), Masked, -1)
}

func isSecretParam(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "secret", "token", "key", "sslpassword"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Source says where a key's value came from.
type Source struct {
	Kind string // default, file, env, flag
	Name string // the file:line, variable or flag
}

func (s Source) String() string {
	if s.Kind == "default" {
		return "default"
	}
	return s.Name
}

// Loaded is the effective configuration and where each value came from.
type Loaded struct {
	Config
	File    string
	Sources map[string]Source
}

// Flags are the command-line flags of the configuration, registered on a
// FlagSet; after the FlagSet is parsed, Load applies the ones given.
type Flags struct {
	config *string
	given  map[string]string // key -> value, in the order given
	order  []string
	byFlag map[string]field
}

// RegisterFlags registers a flag for every key that has one, and --config.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	fl := &Flags{given: map[string]string{}, byFlag: map[string]field{}}
	fl.config = fs.String("config", "", "configuration file (YAML); default: $"+ConfigEnv)
	def := Default()
	for _, f := range fields() {
		if f.flag == "" {
			continue
		}
		fl.byFlag[f.flag] = f
		fs.Var(&flagValue{fl: fl, f: f, def: fmt.Sprint(f.get(&def, false))}, f.flag, f.usage+" ("+f.env+", "+f.key+")")
	}
	return fl
}

// Set gives a key a value as a flag would (for flags such as -v that
// stand for a value of another key).
func (fl *Flags) Set(key, value string) {
	if _, ok := fl.given[key]; !ok {
		fl.order = append(fl.order, key)
	}
	fl.given[key] = value
}

type flagValue struct {
	fl  *Flags
	f   field
	def string
}

func (v *flagValue) String() string {
	if v == nil || v.fl == nil {
		return ""
	}
	if s, ok := v.fl.given[v.f.key]; ok {
		return s
	}
	return v.def
}

func (v *flagValue) Set(s string) error {
	var probe Config
	if err := v.f.set(&probe, s); err != nil {
		return err
	}
	v.fl.Set(v.f.key, s)
	return nil
}

func (v *flagValue) IsBoolFlag() bool { return v.f.typ.Kind() == reflect.Bool }

// Error is a configuration error about one key.
type Error struct {
	Key    string
	Source Source
	Msg    string
}

func (e *Error) Error() string {
	if e.Source.Kind == "" || e.Source.Kind == "default" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("config: %s (from %s): %s", e.Key, e.Source, e.Msg)
}

// Load builds the effective configuration: the defaults, the file (flags'
// --config, else $DCCGATE_CONFIG, else none), the DCCGATE_* variables of
// environ, then the flags given; and validates it. Every error names its
// key; they are joined.
func Load(fl *Flags, environ []string) (*Loaded, error) {
	l := &Loaded{Config: Default(), Sources: map[string]Source{}}
	for _, f := range fields() {
		l.Sources[f.key] = Source{Kind: "default"}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if fl != nil && *fl.config != "" {
		l.File = *fl.config
	} else {
		l.File = env[ConfigEnv]
	}
	var errs []error
	if l.File != "" {
		errs = append(errs, l.loadFile(l.File)...)
	}
	for _, f := range fields() {
		if v, ok := env[f.env]; ok {
			src := Source{Kind: "env", Name: f.env}
			if err := f.set(&l.Config, v); err != nil {
				errs = append(errs, &Error{Key: f.key, Source: src, Msg: err.Error()})
				continue
			}
			l.Sources[f.key] = src
		}
	}
	if fl != nil {
		byKey := map[string]field{}
		for _, f := range fields() {
			byKey[f.key] = f
		}
		for _, k := range fl.order {
			f := byKey[k]
			src := Source{Kind: "flag", Name: "--" + f.flag}
			if f.flag == "" {
				src.Name = "flags"
			}
			if err := f.set(&l.Config, fl.given[k]); err != nil {
				errs = append(errs, &Error{Key: k, Source: src, Msg: err.Error()})
				continue
			}
			l.Sources[k] = src
		}
	}
	errs = append(errs, l.validate()...)
	return l, errors.Join(errs...)
}

// loadFile reads a YAML file: every key must be known, and a value's
// error names the key and the line.
func (l *Loaded) loadFile(name string) []error {
	b, err := os.ReadFile(name)
	if err != nil {
		return []error{fmt.Errorf("config: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return []error{fmt.Errorf("config: %s: %w", name, err)}
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	byKey := map[string]field{}
	prefixes := map[string]bool{}
	for _, f := range fields() {
		byKey[f.key] = f
		for p := f.key; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			prefixes[p] = true
		}
	}
	var errs []error
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		where := fmt.Sprintf("%s:%d", name, n.Line)
		if n.Kind != yaml.MappingNode {
			what := "the file"
			if prefix != "" {
				what = strings.TrimSuffix(prefix, ".")
			}
			errs = append(errs, &Error{Key: what, Source: Source{Kind: "file", Name: where}, Msg: "want a mapping of keys"})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			key := prefix + kn.Value
			src := Source{Kind: "file", Name: fmt.Sprintf("%s:%d", name, kn.Line)}
			if prefixes[key] {
				walk(vn, key+".")
				continue
			}
			f, ok := byKey[key]
			if !ok {
				errs = append(errs, &Error{Key: key, Source: src, Msg: "unknown key" + suggest(key, byKey)})
				continue
			}
			if f.typ.Kind() == reflect.Map {
				var m map[string]string
				if err := vn.Decode(&m); err != nil {
					errs = append(errs, &Error{Key: key, Source: src, Msg: "want a mapping of names to strings"})
					continue
				}
				reflect.ValueOf(&l.Config).Elem().FieldByIndex(f.index).Set(reflect.ValueOf(m))
				l.Sources[key] = src
				continue
			}
			if vn.Kind != yaml.ScalarNode {
				errs = append(errs, &Error{Key: key, Source: src, Msg: "want a single value"})
				continue
			}
			if err := f.set(&l.Config, vn.Value); err != nil {
				errs = append(errs, &Error{Key: key, Source: src, Msg: err.Error()})
				continue
			}
			l.Sources[key] = src
		}
	}
	walk(doc.Content[0], "")
	return errs
}

// suggest names the known key closest to a misspelt one.
func suggest(key string, known map[string]field) string {
	best, bestD := "", 3
	for k := range known {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (known keys: " + strings.Join(Keys(), ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// validate checks the values; each error names its key and source.
func (l *Loaded) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Source: l.Sources[key], Msg: fmt.Sprintf(format, args...)})
	}
	c := &l.Config
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	addr := func(key, v string, required bool) {
		if v == "" {
			if required {
				bad(key, "must not be empty")
			}
			return
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			bad(key, "%q is not host:port", v)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(key, "%q: the port must be 0 to 65535", v)
		}
	}
	addr("listen", c.Listen, true)
	addr("h2c_listen", c.H2CListen, false)
	addr("admin_listen", c.AdminListen, false)
	addr("ssi_listen", c.SSIListen, false)
	if c.Store != "" {
		if strings.Contains(c.Store, "://") {
			if _, err := url.Parse(c.Store); err != nil {
				bad("store", "not a URL: %v", errors.Unwrap(err))
			}
		}
	}
	if c.VirtualClock {
		if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
			bad("start", "%q is not an RFC 3339 time such as 2026-01-05T09:00:00Z", c.Start)
		}
	}
	if c.Demo < 0 {
		bad("demo", "must be 0 or more, not %d", c.Demo)
	}
	if c.Workers < 1 {
		bad("workers", "must be at least 1, not %d", c.Workers)
	}
	if c.MaxInFlight < 1 && c.MaxInFlight != -1 {
		bad("max_in_flight", "must be at least 1, or -1 for no bound, not %d", c.MaxInFlight)
	}
	if c.AdmitWait <= 0 {
		bad("admission_wait", "must be above 0, not %s", c.AdmitWait.Std())
	}
	for _, d := range []struct{ key, dir string }{{"spec", c.Spec}, {"policy", c.Policy}} {
		if d.dir == "" {
			continue
		}
		if st, err := os.Stat(d.dir); err != nil {
			bad(d.key, "%v", err)
		} else if !st.IsDir() {
			bad(d.key, "%s is not a directory", d.dir)
		}
	}
	if c.Grace < 0 {
		bad("grace", "must not be negative")
	}
	if c.Lease != 0 && c.Lease < Duration(300*time.Millisecond) {
		bad("lease", "must be 0 (the default) or at least 300ms, not %s", c.Lease)
	}
	if c.SMWAN.Timeout <= 0 {
		bad("smwan.timeout", "must be above 0")
	}
	if c.SMWAN.Retries < 0 {
		bad("smwan.retries", "must not be negative")
	}
	if c.SMWAN.RetryLater < 0 {
		bad("smwan.retry_later", "must not be negative")
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	oneOf("log.format", c.Log.Format, "auto", "json", "text")
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	if c.SMWAN.Latency < 0 {
		bad("smwan.latency", "must not be negative")
	}
	if c.SMWAN.Loss < 0 || c.SMWAN.Loss > 1 {
		bad("smwan.loss", "%v is not between 0 and 1", c.SMWAN.Loss)
	}
	if c.SMWAN.AnswerLoss < 0 || c.SMWAN.AnswerLoss > 1 {
		bad("smwan.answer_loss", "%v is not between 0 and 1", c.SMWAN.AnswerLoss)
	}
	if e := c.Tracing.Endpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("tracing.endpoint", "want an http:// or https:// URL")
		}
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		bad("tracing.sample_ratio", "%v is not between 0 and 1", r)
	}
	if _, err := ParseAnomaly(c.Anomaly); err != nil {
		bad("anomaly", "%v", err)
	}
	if _, err := ParseAlertAnomaly(c.AlertAnomaly); err != nil {
		bad("alert_anomaly", "%v", err)
	}
	if c.GC.Percent < -1 {
		bad("gc.percent", "must be -1 (off) or more, not %d", c.GC.Percent)
	}
	lim, err := ParseBytes(c.GC.MemoryLimit)
	if err != nil {
		bad("gc.memory_limit", "%v", err)
	}
	if c.GC.Percent == -1 && lim == 0 {
		bad("gc.percent", "-1 (collect only at the memory limit) needs a gc.memory_limit")
	}
	return errs
}

// Print writes the effective configuration as YAML with secrets masked,
// each value that is not a default followed by where it came from.
func (l *Loaded) Print() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{}
	for _, f := range fields() {
		parent := root
		name := f.key
		if i := strings.LastIndex(f.key, "."); i >= 0 {
			sec := f.key[:i]
			name = f.key[i+1:]
			if sections[sec] == nil {
				sections[sec] = &yaml.Node{Kind: yaml.MappingNode}
				root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: sec}, sections[sec])
			}
			parent = sections[sec]
		}
		var vn yaml.Node
		if err := vn.Encode(f.get(&l.Config, true)); err != nil {
			return nil, err
		}
		if m, ok := f.get(&l.Config, true).(map[string]string); ok && len(m) > 0 {
			// Keys in order, for a stable print.
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			vn = yaml.Node{Kind: yaml.MappingNode}
			for _, k := range keys {
				vn.Content = append(vn.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: m[k]})
			}
		}
		kn := &yaml.Node{Kind: yaml.ScalarNode, Value: name}
		if src := l.Sources[f.key]; src.Kind != "default" {
			kn.LineComment = "from " + src.String()
		}
		parent.Content = append(parent.Content, kn, &vn)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// ParseBytes reads a size as GOMEMLIMIT writes it: a whole number of bytes
// with an optional unit B, KiB, MiB, GiB or TiB. "off" and "" are 0: no
// limit.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "off" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size such as 768MiB, 2GiB or off", s)
	}
	return n * mult, nil
}
