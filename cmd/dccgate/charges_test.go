package main

import (
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/spec"
)

const exampleWorld = "../../hubs/testdata/world.yaml"

func TestChargesFormats(t *testing.T) {
	code, out, errs := runCmd(t, "", "charges", "--month", "2026-03", "--input", exampleWorld)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"SUPA  Communications Hub Finance Charges", "Remaining asset cost, split fuel replacement", "para 340, 343-346", "00-DB-00-00-00-00-C0-02", "smear by commissioned_chf"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q", want)
		}
	}

	code, out, errs = runCmd(t, "", "charges", "--month", "2026-03", "--input", exampleWorld, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var st struct {
		Month    string `json:"month"`
		Invoices []struct {
			Party   string `json:"party"`
			Invoice string `json:"invoice"`
			Total   int64  `json:"total_pence"`
			Lines   []struct {
				Kind   string   `json:"kind"`
				Rule   string   `json:"rule"`
				Clause string   `json:"clause"`
				Amount int64    `json:"amount_pence"`
				Hubs   []string `json:"hubs"`
				Detail string   `json:"detail"`
			} `json:"lines"`
		} `json:"invoices"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Month != "2026-03" || len(st.Invoices) == 0 {
		t.Fatalf("json: %+v", st)
	}
	jsonTotal := map[string]int64{}
	for _, inv := range st.Invoices {
		for _, l := range inv.Lines {
			if l.Rule == "" || l.Clause == "" || (len(l.Hubs) == 0 && l.Detail == "") {
				t.Errorf("%s %s line not traceable: %+v", inv.Party, l.Kind, l)
			}
			jsonTotal[inv.Party] += l.Amount
		}
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "charges.csv")
	code, _, errs = runCmd(t, "", "charges", "--month", "2026-03", "--input", exampleWorld, "--format", "csv", "--out", file)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	csvTotal := map[string]int64{}
	for _, r := range rows[1:] {
		n, err := strconv.ParseInt(r[7], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		csvTotal[r[1]] += n
	}
	for p, v := range jsonTotal {
		if csvTotal[p] != v {
			t.Errorf("%s: csv %d, json %d", p, csvTotal[p], v)
		}
	}
}

func TestChargesForOneParty(t *testing.T) {
	code, out, errs := runCmd(t, "", "charges", "--month", "2026-03", "--input", exampleWorld, "--party", "SUPB", "--format", "csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if !strings.HasPrefix(line, "2026-03,SUPB,") {
			t.Errorf("another party's line: %s", line)
		}
	}
}

func TestChargesBadInput(t *testing.T) {
	if code, _, _ := runCmd(t, "", "charges", "--input", exampleWorld); code != exitUsage {
		t.Errorf("no month: exit %d", code)
	}
	if code, _, _ := runCmd(t, "", "charges", "--month", "2026-13", "--input", exampleWorld); code != exitUsage {
		t.Errorf("bad month: exit %d", code)
	}
	bad := `{"orders": [{"id": "O1", "supplier": "A", "lines": [{"variant": "5g", "quantity": 1}]}]}`
	code, _, errs := runCmd(t, bad, "charges", "--month", "2026-03", "--input", "-")
	if code != exitFail || !strings.Contains(errs, `orders[0].lines[0]: unknown HAN variant "5g"`) {
		t.Errorf("bad world: exit %d, %s", code, errs)
	}
	code, _, errs = runCmd(t, `{"orders": [], "surprise": 1}`, "charges", "--month", "2026-03", "--input", "-")
	if code != exitFail || !strings.Contains(errs, "surprise") {
		t.Errorf("unknown field: exit %d, %s", code, errs)
	}
}

// TestChargesFollowAnEditedSpec: the no-fault recovery is the spec's.
func TestChargesFollowAnEditedSpec(t *testing.T) {
	dir := t.TempDir()
	err := fs.WalkDir(spec.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(spec.Files(), p)
		if err != nil {
			return err
		}
		if p == "hubs.cue" {
			b = []byte(strings.Replace(string(b), "recovery_bp: 8000", "recovery_bp: 5000", 1))
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "", "charges", "--month", "2026-03", "--input", exampleWorld, "--format", "csv", "--spec", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// 50% of 5461 = 2730.5 -> 2730 smeared; SUPB's half of the split fuel
	// pool by commissioned CHFs 1:1 is 1365.
	if !strings.Contains(out, "2026-03,SUPB,finance,remaining_asset_split_fuel,") || !strings.Contains(out, ",1365,13.65,") {
		t.Errorf("edited recovery not applied:\n%s", out)
	}
}
