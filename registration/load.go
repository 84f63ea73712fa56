package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// Row error codes: why a row is at fault.
const (
	CodeMissing       = "missing"        // a required column is empty
	CodePattern       = "pattern"        // a value does not match its column's pattern
	CodeFuel          = "fuel"           // a column not used for the file's fuel, or a network operator of the other fuel
	CodeDate          = "effective_from" // not a date or RFC 3339 time
	CodeDuplicate     = "duplicate"      // a second row for one MPxN and effective_from
	CodeAction        = "action"         // delete in a full file
	CodeUnknownRecord = "unknown_record" // delete of a record not held
	CodeNotNominated  = "not_nominated"  // a network operator that did not nominate the RDP (para 84)
	CodeHeldElsewhere = "held_elsewhere" // the MPxN is held under a network operator that did not nominate the RDP
)

// RowError is one row at fault.
type RowError struct {
	Line    int    `json:"line"`
	MPxN    string `json:"mpxn,omitempty"`
	Column  string `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e RowError) String() string {
	s := fmt.Sprintf("line %d", e.Line)
	if e.MPxN != "" {
		s += " mpxn " + e.MPxN
	}
	if e.Column != "" {
		s += " " + e.Column
	}
	return s + ": " + e.Code + ": " + e.Message
}

// Record is a registration record as incidents and answers show it.
type Record struct {
	EffectiveFrom   time.Time `json:"effective_from"`
	NetworkOperator string    `json:"network_operator"`
	ImportSupplier  string    `json:"import_supplier,omitempty"`
	ExportSupplier  string    `json:"export_supplier,omitempty"`
	MeterAgent      string    `json:"meter_agent,omitempty"`
	ProfileClass    string    `json:"profile_class,omitempty"`
	Postcode        string    `json:"postcode,omitempty"`
	Premises        string    `json:"premises,omitempty"`
	UPRN            string    `json:"uprn,omitempty"`
}

func recordOf(r store.RegistrationRecord) Record {
	return Record{EffectiveFrom: r.EffectiveFrom, NetworkOperator: r.NetworkOperator, ImportSupplier: r.ImportSupplier,
		ExportSupplier: r.ExportSupplier, MeterAgent: r.MeterAgent, ProfileClass: r.ProfileClass,
		Postcode: r.Postcode, Premises: r.Premises, UPRN: r.UPRN}
}

// Dispute is an MPxN whose records in a full file differ from those held
// from the file's first record of it on (para 89), or whose records a late
// file rewrites after a later file wrote them (File lacks those it deletes).
type Dispute struct {
	MPxN string   `json:"mpxn"`
	Held []Record `json:"held"`
	File []Record `json:"file"`
}

// Result is what a file did.
type Result struct {
	File store.RegistrationFile
	// Refused: rows for network operators that did not nominate the RDP
	// (para 84); the file is rejected whole.
	Refused bool
	// Reason says why a rejected file was rejected.
	Reason    string
	Errors    []RowError
	Disputes  []Dispute
	Missing   []string // MPxNs held under the RDP's networks that a full file lacks
	Incidents []store.RegistrationIncident
	// Answered are the refresh requests the file provided.
	Answered []string
	// Resolved are the not_received incidents of sequence gaps that the
	// file, arriving late, completed; LeftOpen says why any such incident
	// could not be resolved (the file is applied regardless).
	Resolved []string
	LeftOpen []string
}

// Applied reports whether the file was applied.
func (r *Result) Applied() bool { return r.File.State == StateApplied }

// Load receives one file sent by (or on behalf of) the RDP rdp and applies
// it whole, or rejects it whole raising a registration data incident that
// names the rows at fault (para 87). name is the file's name for the record.
// The error is for failures of the gateway itself, and ErrUnknownRDP; a
// rejected file is a Result.
func (s *Service) Load(ctx context.Context, rdp, name string, data []byte) (*Result, error) {
	return s.load(ctx, rdp, name, data, 1)
}

// load is Load's attempt at applying a file under new IDs.
func (s *Service) load(ctx context.Context, rdp, name string, data []byte, attempt int) (*Result, error) {
	if _, err := s.CheckRDP(ctx, rdp); err != nil {
		return nil, err
	}
	now := s.clk.Now()
	sum := sha256.Sum256(data)
	res := &Result{File: store.RegistrationFile{ID: s.id("F", now), RDP: rdp, Name: name,
		SHA256: hex.EncodeToString(sum[:]), ReceivedAt: now}}

	f, err := Parse(data, s.columns)
	if err != nil {
		// The record says what the header said, where it could be read.
		if h, herr := ReadHeader(data); herr == nil {
			res.File.Kind, res.File.Fuel, res.File.Sequence = h.Kind, h.Fuel, h.Sequence
		}
		return s.reject(ctx, res, IncidentNotConforming, "the file does not conform to the format: "+err.Error(), nil)
	}
	h := f.Header
	res.File.Kind, res.File.Fuel, res.File.Sequence, res.File.Rows = h.Kind, h.Fuel, h.Sequence, len(f.Rows)
	if _, ok := s.rd.Fuels[h.Fuel]; !ok {
		return s.reject(ctx, res, IncidentNotConforming, fmt.Sprintf("the file does not conform to the format: unknown fuel %q", h.Fuel), nil)
	}
	if h.RDP != rdp {
		res.Refused = true
		return s.reject(ctx, res, IncidentRejected, fmt.Sprintf("the file names RDP %s but was sent by %s", h.RDP, rdp), nil)
	}
	last, err := s.rep.LastSequence(ctx, rdp, h.Fuel)
	if err != nil {
		return nil, err
	}
	// A sequence number below the last applied is a late file if no applied
	// file has it: a gap filled (para 87). It applies as any file of its
	// kind; records are effective-dated, so the order of arrival does not
	// change the result, except where it rewrites what a later file wrote
	// (see superseded).
	var applied map[int64]string
	if h.Sequence <= last {
		if applied, err = s.appliedFiles(ctx, rdp, h.Fuel); err != nil {
			return nil, err
		}
		if id, ok := applied[h.Sequence]; ok {
			return s.reject(ctx, res, IncidentRejected, fmt.Sprintf("sequence %d was already used: applied file %s has it; the last applied %s file of %s is %d", h.Sequence, id, h.Fuel, rdp, last), nil)
		}
	}

	noms, err := s.nominations(ctx, now)
	if err != nil {
		return nil, err
	}
	recs, rowErrs, err := s.check(ctx, f, rdp, noms, now)
	if err != nil {
		return nil, err
	}
	if len(rowErrs) > 0 {
		for _, e := range rowErrs {
			if e.Code == CodeNotNominated || e.Code == CodeHeldElsewhere {
				res.Refused = true
			}
		}
		kind, why := IncidentErrors, "rows contain errors"
		if res.Refused {
			kind, why = IncidentRejected, "rows are for network operators that did not nominate "+rdp+" (para 84)"
		}
		return s.reject(ctx, res, kind, fmt.Sprintf("%d of %d rows at fault: %s; first: %s", countRows(rowErrs), len(f.Rows), why, rowErrs[0]), rowErrs)
	}

	apply := store.RegistrationApply{File: res.File}
	switch h.Kind {
	case KindIncremental:
		for _, r := range recs.rows {
			if r.delete {
				apply.Deletes = append(apply.Deletes, store.RegistrationKey{MPxN: r.rec.MPxN, EffectiveFrom: r.rec.EffectiveFrom})
				continue
			}
			r.rec.Source = res.File.ID
			apply.Upserts = append(apply.Upserts, r.rec)
		}
		if applied != nil {
			if sup := superseded(recs, applied, h.Sequence); len(sup) > 0 {
				res.Disputes = sup
				in := s.incident(res, IncidentMisaligned, now, fmt.Sprintf("late file %s (%s sequence %d, after %d) rewrites or deletes the records of %d MPxNs that later files wrote; applied as sent, its records replace theirs (para 87)",
					res.File.ID, h.Fuel, h.Sequence, last, len(sup)), detail(res.File.ID, nil, sup, nil, s.rd.MaxRowsListed))
				in.Rows = len(sup)
				apply.Incidents = append(apply.Incidents, in)
			}
		}
	case KindFull:
		if err := s.reconcile(ctx, rdp, h.Fuel, now, recs, res, &apply); err != nil {
			return nil, err
		}
		if len(res.Disputes) > 0 && s.rd.Master == "dcc" {
			return s.reject(ctx, res, IncidentMisaligned, fmt.Sprintf("%d MPxNs disagree with the Registration Data held, which is master (para 89): nothing applied", len(res.Disputes)), nil)
		}
		if len(res.Disputes) > 0 || len(res.Missing) > 0 {
			in := s.incident(res, IncidentMisaligned, now, misalignedSummary(res, s.rd.Master), detail(res.File.ID, nil, res.Disputes, res.Missing, s.rd.MaxRowsListed))
			in.Rows = len(res.Disputes) + len(res.Missing)
			apply.Incidents = append(apply.Incidents, in)
		}
		// A full file provides the refreshes asked of the RDP before it.
		open, err := s.rep.RefreshRequests(ctx, rdp, true)
		if err != nil {
			return nil, err
		}
		for _, r := range open {
			if r.RequestedAt.After(now) || (r.NetworkOperator != "" && noms[r.NetworkOperator] != rdp) {
				continue
			}
			ok, err := s.answers(ctx, r, noms, h.Fuel)
			if err != nil {
				return nil, err
			}
			if ok {
				apply.Answers = append(apply.Answers, r.ID)
			}
		}
	}
	if last > 0 && h.Sequence > last+1 {
		in := s.incident(res, IncidentNotReceived, now,
			fmt.Sprintf("%s %s files %s not received: file %s has sequence %d after %d", rdp, h.Fuel, seqRange(last+1, h.Sequence-1), res.File.ID, h.Sequence, last), nil)
		in.Key = fmt.Sprintf("%s/%s/%s/%d-%d", IncidentNotReceived, rdp, h.Fuel, last+1, h.Sequence-1)
		apply.Incidents = append(apply.Incidents, in)
	}
	res.File.State = StateApplied
	res.File.Written, res.File.Deleted = len(apply.Upserts), len(apply.Deletes)
	if len(apply.Incidents) > 0 {
		res.File.Incident = apply.Incidents[0].ID
	}
	apply.File = res.File
	if err := s.rep.ApplyRegistrationFile(ctx, apply); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			if held, err := s.appliedFiles(ctx, rdp, h.Fuel); err == nil && held[h.Sequence] == "" && attempt < idAttempts {
				// The sequence number is free: an ID was taken. Again,
				// under new IDs.
				return s.load(ctx, rdp, name, data, attempt+1)
			}
			// Another file took the sequence number meanwhile.
			res.File.State, res.File.Written, res.File.Deleted, res.File.Incident = "", 0, 0, ""
			return s.reject(ctx, res, IncidentRejected, fmt.Sprintf("sequence %d was already used", h.Sequence), nil)
		}
		return nil, err
	}
	res.Incidents, res.Answered = apply.Incidents, apply.Answers
	if applied != nil {
		s.closeGaps(ctx, res)
	}
	return res, nil
}

// appliedFiles maps the sequence numbers of the applied files of an RDP
// and fuel to the files' IDs.
func (s *Service) appliedFiles(ctx context.Context, rdp, fuel string) (map[int64]string, error) {
	files, err := s.rep.RegistrationFiles(ctx, rdp, 0)
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, f := range files {
		if f.Fuel == fuel && f.State == StateApplied {
			out[f.Sequence] = f.ID
		}
	}
	return out, nil
}

// superseded lists, by MPxN, the records a late incremental file (sequence
// seq) rewrites or deletes that a file of a later sequence wrote: the file
// applies as sent, but not silently. applied is the applied files' IDs by
// sequence. A record a later file deleted is not held, so a late file that
// writes it again cannot be told from one writing a new record.
func superseded(c *checked, applied map[int64]string, seq int64) []Dispute {
	later := map[string]bool{}
	for n, id := range applied {
		if n > seq {
			later[id] = true
		}
	}
	var out []Dispute
	at := map[string]int{}
	for _, r := range c.rows {
		i := slices.IndexFunc(c.history[r.rec.MPxN], func(h store.RegistrationRecord) bool {
			return h.EffectiveFrom.Equal(r.rec.EffectiveFrom)
		})
		if i < 0 {
			continue
		}
		h := c.history[r.rec.MPxN][i]
		if !later[h.Source] || (!r.delete && sameRecord(h, r.rec)) {
			continue
		}
		j, ok := at[h.MPxN]
		if !ok {
			j = len(out)
			at[h.MPxN] = j
			out = append(out, Dispute{MPxN: h.MPxN})
		}
		out[j].Held = append(out[j].Held, recordOf(h))
		if !r.delete {
			out[j].File = append(out[j].File, recordOf(r.rec))
		}
	}
	return out
}

// closeGaps resolves the not_received incidents of sequence gaps (raised
// by load) that a late file completes: every sequence of the gap is now
// applied. It runs after the file's transaction (the store resolves
// incidents on their own), so the files applied are read again: two late
// files of one gap arriving together each see the other. The file is
// applied already, so a failure here leaves the incident open for an
// operator to resolve, and the result says so.
func (s *Service) closeGaps(ctx context.Context, res *Result) {
	f := res.File
	applied, err := s.appliedFiles(ctx, f.RDP, f.Fuel)
	if err != nil {
		res.LeftOpen = append(res.LeftOpen, "applied files not read: "+err.Error())
		return
	}
	open, err := s.rep.RegistrationIncidents(ctx, store.IncidentFilter{RDP: f.RDP, Kind: IncidentNotReceived, OpenOnly: true})
	if err != nil {
		res.LeftOpen = append(res.LeftOpen, "gap incidents not read: "+err.Error())
		return
	}
	prefix := fmt.Sprintf("%s/%s/%s/", IncidentNotReceived, f.RDP, f.Fuel)
	for _, in := range open {
		var a, b int64
		rest, ok := strings.CutPrefix(in.Key, prefix)
		if !ok {
			continue
		}
		if _, err := fmt.Sscanf(rest, "%d-%d", &a, &b); err != nil || f.Sequence < a || f.Sequence > b {
			continue
		}
		complete := true
		for n := a; n <= b && complete; n++ {
			complete = applied[n] != ""
		}
		if !complete {
			continue
		}
		note := fmt.Sprintf("%s %s files %s received late; the last, %s (sequence %d), at %s",
			f.RDP, f.Fuel, seqRange(a, b), f.ID, f.Sequence, f.ReceivedAt.Format(time.RFC3339))
		err := s.rep.ResolveRegistrationIncident(ctx, in.ID, f.ReceivedAt, note)
		switch {
		case err == nil:
			res.Resolved = append(res.Resolved, in.ID)
		case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrNotFound):
			// Resolved meanwhile.
		default:
			res.LeftOpen = append(res.LeftOpen, in.ID+": "+err.Error())
		}
	}
}

// answers: a full file of fuel, with those of the other fuels the refresh
// needs received since it was asked for, provides refresh r.
func (s *Service) answers(ctx context.Context, r store.RefreshRequest, noms map[string]string, fuel string) (bool, error) {
	need, err := s.refreshFuels(ctx, r, noms)
	if err != nil || !slices.Contains(need, fuel) {
		return false, err
	}
	if len(need) == 1 {
		return true, nil
	}
	files, err := s.rep.RegistrationFiles(ctx, r.RDP, 0)
	if err != nil {
		return false, err
	}
	for _, f := range need {
		if f == fuel {
			continue
		}
		if !slices.ContainsFunc(files, func(x store.RegistrationFile) bool {
			return x.Fuel == f && x.Kind == KindFull && x.State == StateApplied && !x.ReceivedAt.Before(r.RequestedAt)
		}) {
			return false, nil
		}
	}
	return true, nil
}

func countRows(errs []RowError) int {
	n, last := 0, -1
	for _, e := range errs {
		if e.Line != last {
			n++
			last = e.Line
		}
	}
	return n
}

func seqRange(a, b int64) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d to %d", a, b)
}

func misalignedSummary(res *Result, master string) string {
	in := "the RDP's records are in force (master: rdp)"
	if master == "dcc" {
		in = "the records held stay in force (master: dcc)"
	}
	return fmt.Sprintf("full file %s disagrees with the Registration Data held: %d MPxNs differ, %d held MPxNs are not in it; %s (para 89)",
		res.File.ID, len(res.Disputes), len(res.Missing), in)
}

// incident makes an incident of the file.
func (s *Service) incident(res *Result, kind string, at time.Time, summary string, det []byte) store.RegistrationIncident {
	return store.RegistrationIncident{ID: s.id("I", at), Kind: kind, RDP: res.File.RDP, File: res.File.ID,
		RaisedAt: at, Summary: summary, Detail: det}
}

// detail is an incident's JSON detail, each list capped at max entries.
func detail(file string, rows []RowError, disputes []Dispute, missing []string, max int) []byte {
	d := map[string]any{"file": file}
	trunc := false
	if len(rows) > 0 {
		if len(rows) > max {
			rows, trunc = rows[:max], true
		}
		d["rows"] = rows
	}
	if len(disputes) > 0 {
		if len(disputes) > max {
			disputes, trunc = disputes[:max], true
		}
		d["disputes"] = disputes
	}
	if len(missing) > 0 {
		if len(missing) > max {
			missing, trunc = missing[:max], true
		}
		d["missing"] = missing
	}
	if trunc {
		d["truncated"] = true
	}
	b, _ := json.Marshal(d)
	return b
}

// reject records the file as rejected with its incident.
func (s *Service) reject(ctx context.Context, res *Result, kind, summary string, rows []RowError) (*Result, error) {
	res.File.State = StateRejected
	res.Reason = summary
	res.Errors = rows
	in := s.incident(res, kind, res.File.ReceivedAt, summary, detail(res.File.ID, rows, res.Disputes, res.Missing, s.rd.MaxRowsListed))
	in.Rows = countRows(rows)
	if kind == IncidentMisaligned {
		in.Rows = len(res.Disputes)
	}
	for attempt := 1; ; attempt++ {
		res.File.Incident = in.ID
		res.Incidents = []store.RegistrationIncident{in}
		err := s.rep.ApplyRegistrationFile(ctx, store.RegistrationApply{File: res.File, Incidents: res.Incidents})
		if err == nil {
			return res, nil
		}
		// A rejected file holds no sequence number and its incident no
		// dedupe key: a duplicate is an ID taken. The record is kept under
		// new IDs, never lost.
		if !errors.Is(err, store.ErrDuplicate) || attempt == idAttempts {
			return nil, err
		}
		old := res.File.ID
		res.File.ID = s.id("F", res.File.ReceivedAt)
		in.ID, in.File = s.id("I", res.File.ReceivedAt), res.File.ID
		in.Detail = detail(res.File.ID, rows, res.Disputes, res.Missing, s.rd.MaxRowsListed)
		in.Summary = strings.ReplaceAll(in.Summary, old, res.File.ID)
		res.Reason = in.Summary
	}
}

// checkedRow is a row that passed the checks.
type checkedRow struct {
	rec    store.RegistrationRecord
	delete bool
}

type checked struct {
	rows    []checkedRow
	history map[string][]store.RegistrationRecord // by MPxN, by EffectiveFrom
}

// parseTime reads an effective_from: a date (UTC midnight) or RFC 3339.
func parseTime(v string) (time.Time, error) {
	if len(v) == len("2006-01-02") {
		return time.Parse(time.DateOnly, v)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t.UTC(), err
}

// check validates every row against the spec's columns, the nominations
// and the records held, returning the rows as records or every row at
// fault.
func (s *Service) check(ctx context.Context, f *File, rdp string, noms map[string]string, now time.Time) (*checked, []RowError, error) {
	fuel := f.Header.Fuel
	var errs []RowError
	bad := func(r Row, col, code, format string, args ...any) {
		errs = append(errs, RowError{Line: r.Line, MPxN: r.Get("mpxn"), Column: col, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	out := &checked{rows: make([]checkedRow, 0, len(f.Rows))}
	type key struct {
		mpxn string
		from int64
	}
	seen := make(map[key]int, len(f.Rows))
	noFuel := map[string]string{}
	var mpxns []string
	mpxnSeen := make(map[string]bool, len(f.Rows))
	for _, r := range f.Rows {
		nErr := len(errs)
		for _, c := range s.required {
			if r.Get(c) == "" {
				bad(r, c, CodeMissing, "%s is required", c)
			}
		}
		for _, c := range s.columns {
			v := r.Get(c)
			if v == "" {
				continue
			}
			if fs, ok := s.colFuels[c]; ok && !slices.Contains(fs, fuel) {
				bad(r, c, CodeFuel, "%s is not used for %s", c, fuel)
				continue
			}
			if re := s.patterns[c]; re != nil && !re.MatchString(v) {
				bad(r, c, CodePattern, "%q does not match %s", v, re)
			}
		}
		if m := r.Get("mpxn"); m != "" && !s.fuelPat[fuel].MatchString(m) {
			bad(r, "mpxn", CodePattern, "%q is not an %s (%s)", m, s.rd.Fuels[fuel].MPxN, s.fuelPat[fuel])
		}
		from, err := parseTime(r.Get("effective_from"))
		if r.Get("effective_from") != "" && err != nil {
			bad(r, "effective_from", CodeDate, "%q is not a date (YYYY-MM-DD) or an RFC 3339 time", r.Get("effective_from"))
		}
		del := r.Get("action") == "delete"
		if del && f.Header.Kind == KindFull {
			bad(r, "action", CodeAction, "a full file holds the records in force; delete is for incremental files")
		}
		if no := r.Get("network_operator"); no != "" && len(errs) == nErr {
			if noms[no] != rdp {
				bad(r, "network_operator", CodeNotNominated, "%s did not nominate %s as its RDP", no, rdp)
			} else {
				nf, ok := noFuel[no]
				if !ok {
					if nf, err = s.networkFuel(ctx, no); err != nil {
						return nil, nil, err
					}
					noFuel[no] = nf
				}
				if nf != fuel {
					bad(r, "network_operator", CodeFuel, "%s is not a %s network operator", no, fuel)
				}
			}
		}
		if len(errs) > nErr {
			continue
		}
		k := key{r.Get("mpxn"), from.UnixNano()}
		if line, dup := seen[k]; dup {
			bad(r, "effective_from", CodeDuplicate, "line %d has the same mpxn and effective_from", line)
			continue
		}
		seen[k] = r.Line
		rec := store.RegistrationRecord{Registration: store.Registration{
			MPxN: r.Get("mpxn"), Fuel: fuel, ImportSupplier: r.Get("import_supplier"), ExportSupplier: r.Get("export_supplier"),
			NetworkOperator: r.Get("network_operator"), Postcode: r.Get("postcode"), Premises: r.Get("premises"),
			UPRN: r.Get("uprn"), EffectiveFrom: from}, MeterAgent: r.Get("meter_agent"), ProfileClass: r.Get("profile_class")}
		out.rows = append(out.rows, checkedRow{rec: rec, delete: del})
		if !mpxnSeen[rec.MPxN] {
			mpxnSeen[rec.MPxN] = true
			mpxns = append(mpxns, rec.MPxN)
		}
	}
	// What is held of these MPxNs: a row may not touch an MPxN held under a
	// network the RDP does not serve, nor delete a record not held.
	hist, err := s.rep.RegistrationHistory(ctx, mpxns)
	if err != nil {
		return nil, nil, err
	}
	out.history = make(map[string][]store.RegistrationRecord, len(mpxns))
	for _, h := range hist {
		out.history[h.MPxN] = append(out.history[h.MPxN], h)
	}
	lines := make(map[key]int, len(seen))
	for k, l := range seen {
		lines[k] = l
	}
	for _, cr := range out.rows {
		held := out.history[cr.rec.MPxN]
		line := lines[key{cr.rec.MPxN, cr.rec.EffectiveFrom.UnixNano()}]
		row := Row{Line: line, Values: map[string]string{"mpxn": cr.rec.MPxN}}
		if cur, ok := inEffect(held, now); ok && noms[cur.NetworkOperator] != rdp {
			bad(row, "mpxn", CodeHeldElsewhere, "the MPxN is held under network operator %s, which did not nominate %s", cur.NetworkOperator, rdp)
			continue
		}
		if cur, ok := inEffect(held, cr.rec.EffectiveFrom); ok && cur.Fuel != "" && cur.Fuel != fuel {
			bad(row, "mpxn", CodeFuel, "the MPxN is held as %s", cur.Fuel)
			continue
		}
		if cr.delete && !slices.ContainsFunc(held, func(h store.RegistrationRecord) bool { return h.EffectiveFrom.Equal(cr.rec.EffectiveFrom) }) {
			bad(row, "effective_from", CodeUnknownRecord, "no record of the MPxN is held from %s", cr.rec.EffectiveFrom.Format(time.RFC3339))
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return out, errs, nil
}

// inEffect is the record of a history (by EffectiveFrom) in effect at t.
func inEffect(hist []store.RegistrationRecord, t time.Time) (store.RegistrationRecord, bool) {
	var cur store.RegistrationRecord
	ok := false
	for _, h := range hist {
		if h.EffectiveFrom.After(t) {
			break
		}
		cur, ok = h, true
	}
	return cur, ok
}

// sameRecord compares what a record says (not where it came from).
func sameRecord(a, b store.RegistrationRecord) bool {
	a.Source, b.Source = "", ""
	return a == b
}

// reconcile compares a full file with the records held (para 89): for each
// MPxN, the file's records against those held from the file's first one on,
// the record in force at that date counting as held from it.
// MPxNs that agree are left alone; new ones are written; those that differ
// are disputes, replaced when the RDP is master. MPxNs held under the RDP's
// networks that the file lacks are listed, never deleted.
func (s *Service) reconcile(ctx context.Context, rdp, fuel string, now time.Time, c *checked, res *Result, apply *store.RegistrationApply) error {
	byMPxN := map[string][]store.RegistrationRecord{}
	var order []string
	for _, r := range c.rows {
		if _, ok := byMPxN[r.rec.MPxN]; !ok {
			order = append(order, r.rec.MPxN)
		}
		byMPxN[r.rec.MPxN] = append(byMPxN[r.rec.MPxN], r.rec)
	}
	sort.Strings(order)
	for _, m := range order {
		file := byMPxN[m]
		sort.Slice(file, func(i, j int) bool { return file[i].EffectiveFrom.Before(file[j].EffectiveFrom) })
		first := file[0].EffectiveFrom
		// What is held from first on: the records dated from then, after
		// the one in force at first. That one counts as held from first
		// (re-dated for the comparison only), so a file whose first record
		// postdates the held one in force is compared with it, not taken
		// for a new MPxN.
		var held, cmp []store.RegistrationRecord
		if cur, ok := inEffect(c.history[m], first); ok && cur.EffectiveFrom.Before(first) {
			held = append(held, cur)
			cur.EffectiveFrom = first
			cmp = append(cmp, cur)
		}
		for _, h := range c.history[m] {
			if !h.EffectiveFrom.Before(first) {
				held, cmp = append(held, h), append(cmp, h)
			}
		}
		if slices.EqualFunc(cmp, file, sameRecord) {
			continue
		}
		if len(held) > 0 {
			d := Dispute{MPxN: m}
			for _, h := range held {
				if h.EffectiveFrom.Before(first) {
					// In force before the file's first record: it stays,
					// and stops being in force when the file's starts.
					d.Held = append(d.Held, recordOf(h))
					continue
				}
				d.Held = append(d.Held, recordOf(h))
				// A held record the file does not overwrite goes.
				if !slices.ContainsFunc(file, func(f store.RegistrationRecord) bool { return f.EffectiveFrom.Equal(h.EffectiveFrom) }) {
					apply.Deletes = append(apply.Deletes, store.RegistrationKey{MPxN: m, EffectiveFrom: h.EffectiveFrom})
				}
			}
			for _, f := range file {
				d.File = append(d.File, recordOf(f))
			}
			res.Disputes = append(res.Disputes, d)
		}
		for _, f := range file {
			f.Source = res.File.ID
			apply.Upserts = append(apply.Upserts, f)
		}
	}
	nets, err := s.NetworksOf(ctx, rdp, now)
	if err != nil || len(nets) == 0 {
		return err
	}
	held, err := s.rep.RegistrationsInEffect(ctx, now, nets)
	if err != nil {
		return err
	}
	for _, h := range held {
		if h.Fuel == fuel {
			if _, ok := byMPxN[h.MPxN]; !ok {
				res.Missing = append(res.Missing, h.MPxN)
			}
		}
	}
	return nil
}

// Summary says what a result did in one line.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "file %s (%s %s, sequence %d, %d rows): %s", r.File.ID, r.File.Fuel, r.File.Kind, r.File.Sequence, r.File.Rows, r.File.State)
	if r.Applied() {
		fmt.Fprintf(&b, ", %d records written, %d deleted", r.File.Written, r.File.Deleted)
	} else {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	for _, in := range r.Incidents {
		fmt.Fprintf(&b, "\n  incident %s (%s): %s", in.ID, in.Kind, in.Summary)
	}
	for _, id := range r.Resolved {
		fmt.Fprintf(&b, "\n  incident %s (%s) resolved: the gap is filled", id, IncidentNotReceived)
	}
	for _, e := range r.LeftOpen {
		fmt.Fprintf(&b, "\n  gap incident left open: %s", e)
	}
	return b.String()
}
