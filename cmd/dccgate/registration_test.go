package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
)

// TestRegistrationAndReportCommands drives the Registration Data Interface
// and the reports from the command line over one data directory.
func TestRegistrationAndReportCommands(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	const (
		rdp = "00-00-00-00-00-00-0D-01"
		eno = "00-00-00-00-00-00-0E-01"
		sup = "00-00-00-00-00-00-0A-01"
	)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: eno, Role: "ENO", Entered: true}, {ID: sup, Role: "EIS", Entered: true}} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	at := func(ts string) []string { return []string{"--data", dir, "--at", ts} }
	cmd := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := runCmd(t, "", args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errs)
		}
		return out
	}

	out := cmd(exitOK, append([]string{"registration", "rdp", "add", "--id", rdp, "--name", "Wires RDP"}, at("2026-03-01T09:00:00Z")...)...)
	if !strings.Contains(out, filepath.Join(dir, "pki", "rdps", rdp+".pem")) {
		t.Fatalf("rdp add: %s", out)
	}
	cmd(exitOK, append([]string{"registration", "nominate", "--network-operator", eno, "--rdp", rdp}, at("2026-03-01T09:00:00Z")...)...)

	good := filepath.Join(dir, "good.csv")
	writeFile(t, good, "#dccgate-registration v1 rdp="+rdp+" kind=incremental fuel=electricity sequence=1 created=2026-03-01T09:00:00Z\n"+
		"mpxn,effective_from,network_operator,import_supplier,profile_class\n"+
		"1900000000001,2026-01-01,"+eno+","+sup+",01\n"+
		"1900000000002,2026-04-01,"+eno+","+sup+",01\n"+
		"#end rows=2\n")
	out = cmd(exitOK, append([]string{"registration", "load", good}, at("2026-03-02T09:00:00Z")...)...)
	if !strings.Contains(out, "applied, 2 records written") {
		t.Fatalf("load: %s", out)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, `{"registration":"v1","rdp":"`+rdp+`","kind":"incremental","fuel":"electricity","sequence":2,"created":"2026-03-02T09:00:00Z"}
{"mpxn":"1900000000003","effective_from":"2026-01-01","network_operator":"`+eno+`"}
{"mpxn":"190000000000X","effective_from":"2026-01-01","network_operator":"`+eno+`"}
{"end":{"rows":2}}
`)
	out = cmd(exitFail, append([]string{"registration", "load", bad}, at("2026-03-02T10:00:00Z")...)...)
	if !strings.Contains(out, "rejected") || !strings.Contains(out, "row at fault: line 3 mpxn 190000000000X mpxn: pattern") {
		t.Fatalf("bad load: %s", out)
	}
	out = cmd(exitOK, append([]string{"registration", "incidents", "--json"}, at("2026-03-02T10:00:00Z")...)...)
	var incs []struct {
		Kind   string
		Detail struct {
			Rows []struct{ Line int } `json:"rows"`
		}
	}
	if err := json.Unmarshal([]byte(out), &incs); err != nil || len(incs) != 1 || incs[0].Kind != "errors" || incs[0].Detail.Rows[0].Line != 3 {
		t.Fatalf("incidents %s %v", out, err)
	}
	cmd(exitOK, append([]string{"registration", "refresh", "--rdp", rdp}, at("2026-03-02T10:00:00Z")...)...)
	out = cmd(exitOK, append([]string{"registration", "refreshes", "--open"}, at("2026-03-04T11:00:00Z")...)...)
	if !strings.Contains(out, "2026-03-04T10:00:00Z  -         true") {
		t.Fatalf("refreshes: %s", out)
	}
	out = cmd(exitOK, append([]string{"registration", "sweep"}, at("2026-03-04T11:00:00Z")...)...)
	if !strings.Contains(out, "2 incidents raised") { // the overdue refresh, and no file for a day
		t.Fatalf("sweep: %s", out)
	}

	out = cmd(exitOK, append([]string{"report", "forecast", "--user", sup, "4.1:2026-04=100", "4.8:2026-05=20"}, at("2026-03-02T10:00:00Z")...)...)
	if !strings.Contains(out, sup+" 4.1 2026-04: 100 requests (revision 1") {
		t.Fatalf("forecast: %s", out)
	}
	cmd(exitFail, append([]string{"report", "forecast", "--user", sup, "4.1:2026-03=100"}, at("2026-03-02T10:00:00Z")...)...)
	cmd(exitUsage, "report", "forecast", "--user", sup, "4.1-2026-04")
	out = cmd(exitOK, append([]string{"report", "performance", "--month", "2026-03"}, at("2026-04-01T10:00:00Z")...)...)
	if !strings.Contains(out, "Code Performance Measures, March 2026") || !strings.Contains(out, "Measure 4:") || strings.Contains(out, "not yet measured") {
		t.Fatalf("performance: %s", out)
	}
	out = cmd(exitOK, append([]string{"report", "demand", "--month", "2026-04", "--format", "csv"}, at("2026-05-01T10:00:00Z")...)...)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || rows[0][0] != "month" || !strings.Contains(out, "2026-04,"+sup+",EIS,4.1,Read Instantaneous Import Registers,0,forecast,0,100,0.0000,false") {
		t.Fatalf("demand csv: %s %v", out, err)
	}
	out = cmd(exitOK, append([]string{"report", "demand", "--month", "2026-04", "--format", "json", "--publication"}, at("2026-05-01T10:00:00Z")...)...)
	var pub struct {
		Month     string `json:"month"`
		Aggregate []any  `json:"aggregate"`
	}
	if err := json.Unmarshal([]byte(out), &pub); err != nil || pub.Month != "2026-04" || pub.Aggregate == nil {
		t.Fatalf("publication %s %v", out, err)
	}
	out = cmd(exitOK, append([]string{"report", "enrolment"}, at("2026-03-15T06:00:00Z")...)...)
	if !strings.Contains(out, "recorded") {
		t.Fatalf("enrolment: %s", out)
	}
	cmd(exitUsage, "report", "demand")
	cmd(exitUsage, "registration", "nope")
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStoreURLFromEnvironment: the store-backed commands open --store, else
// the DCCGATE_STORE that serve reads, else the data directory's SQLite
// file: beside a gateway on PostgreSQL, `registration`, `report` and
// `charges` wrote to a SQLite file of their own.
func TestStoreURLFromEnvironment(t *testing.T) {
	for _, tc := range []struct{ flag, env, want string }{
		{"", "", "sqlite://" + filepath.Join("d", "dccgate.db")},
		{"", "postgres://db/x", "postgres://db/x"},
		{"sqlite:///f.db", "postgres://db/x", "sqlite:///f.db"},
	} {
		t.Setenv("DCCGATE_STORE", tc.env)
		if got := storeURL(tc.flag, "d"); got != tc.want {
			t.Errorf("storeURL(%q) with DCCGATE_STORE=%q: %q, want %q", tc.flag, tc.env, got, tc.want)
		}
	}
}

// TestRegistrationCommandsAtOneTime drives the commands as the tester did:
// several runs with the same --at (each a process whose counters start
// again), refreshes of RDPs that are not nominated for them, and a file
// cut short. Each step runs in the data directory the steps before left.
func TestRegistrationCommandsAtOneTime(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	const (
		rdp1 = "00-00-00-00-00-00-0D-01"
		rdp2 = "00-00-00-00-00-00-0D-02"
		eno  = "00-00-00-00-00-00-0E-01"
		gno  = "00-00-00-00-00-00-06-01"
		sup  = "00-00-00-00-00-00-0A-01"
		at   = "2026-02-06T10:00:00Z"
	)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: eno, Role: "ENO", Entered: true}, {ID: gno, Role: "GNO", Entered: true}, {ID: sup, Role: "EIS", Entered: true}} {
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	header := "#dccgate-registration v1 rdp=" + rdp1 + " kind=incremental fuel=electricity sequence=1 created=" + at + "\n" +
		"mpxn,effective_from,network_operator,import_supplier,profile_class\n" +
		"1900000000001,2026-01-01," + eno + "," + sup + ",01\n"
	good, trunc, garbage := filepath.Join(dir, "good.csv"), filepath.Join(dir, "trunc.csv"), filepath.Join(dir, "garbage.csv")
	writeFile(t, good, header+"#end rows=1\n")
	writeFile(t, trunc, header)
	writeFile(t, garbage, "not a registration file\n")

	steps := []struct {
		note      string
		args      []string
		want      int
		out, errs []string // what stdout and stderr say
		notErrs   []string // what stderr does not say
	}{
		{note: "an RDP", args: []string{"rdp", "add", "--id", rdp1}},
		{note: "another RDP", args: []string{"rdp", "add", "--id", rdp2}},
		{note: "the ENO nominates RDP 1", args: []string{"nominate", "--network-operator", eno, "--rdp", rdp1}},
		{note: "the GNO nominates RDP 1", args: []string{"nominate", "--network-operator", gno, "--rdp", rdp1}},
		{note: "a gas refresh", args: []string{"refresh", "--rdp", rdp1, "--fuel", "gas"}, out: []string{"refresh R-20260206T100000.000000000Z-"}},
		{note: "an electricity refresh at the same time", args: []string{"refresh", "--rdp", rdp1, "--fuel", "electricity"}, out: []string{"refresh R-20260206T100000.000000000Z-"}},
		{note: "a file", args: []string{"load", good}, out: []string{"applied, 1 records written"}},
		{note: "the same file at the same time: rejected, recorded", args: []string{"load", good}, want: exitFail,
			out: []string{"rejected: sequence 1 was already used", "incident I-20260206T100000.000000000Z-"}},
		{note: "the rejection's incident is kept", args: []string{"incidents", "--kind", "rejected"}, out: []string{"sequence 1 was already used"}},
		{note: "a refresh of RDP 2 for the ENO, which nominated RDP 1", args: []string{"refresh", "--rdp", rdp2, "--network-operator", eno}, want: exitFail,
			errs: []string{"not_nominated (para 84, 90-91): network operator " + eno + " has nominated " + rdp1 + " as its RDP, not " + rdp2}},
		{note: "a refresh of RDP 2, nominated by no one", args: []string{"refresh", "--rdp", rdp2}, want: exitFail,
			errs: []string{"not_nominated (para 84, 90-91): " + rdp2 + " is not nominated by any network operator", eno + " nominates " + rdp1}},
		{note: "a file cut short: its header names the RDP", args: []string{"load", trunc}, want: exitFail,
			out:     []string{"rejected: the file does not conform to the format: line 3: the trailer \"#end rows=N\" is missing: the header was read (rdp=" + rdp1},
			notErrs: []string{"--rdp"}},
		{note: "its incident", args: []string{"incidents", "--kind", "not_conforming"}, out: []string{"trailer \"#end rows=N\" is missing"}},
		{note: "a file without a header", args: []string{"load", garbage}, want: exitFail, errs: []string{"--rdp is required for a file whose header cannot be read"}},
	}
	for _, st := range steps {
		t.Run(st.note, func(t *testing.T) {
			args := append(append([]string{"registration"}, st.args...), "--data", dir, "--at", at)
			code, out, errs := runCmd(t, "", args...)
			if code != st.want {
				t.Fatalf("%v: exit %d, want %d\n%s%s", st.args, code, st.want, out, errs)
			}
			for _, s := range st.out {
				if !strings.Contains(out, s) {
					t.Fatalf("stdout %q does not say %q", out, s)
				}
			}
			for _, s := range st.errs {
				if !strings.Contains(errs, s) {
					t.Fatalf("stderr %q does not say %q", errs, s)
				}
			}
			for _, s := range st.notErrs {
				if strings.Contains(errs, s) {
					t.Fatalf("stderr %q says %q", errs, s)
				}
			}
		})
	}
}
