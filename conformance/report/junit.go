package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML, as CI systems read it: a testsuite per scenario file, a
// testcase per case (classname the row, name the case id), a failure
// element per failed case and skipped for a known failure. A scenario that
// failed outside its cases (a gateway that could not be started, reset or
// closed) has one more testcase, named scenarioCase, with an error element.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// scenarioCase names the testcase of a scenario's own failures.
const scenarioCase = "(scenario)"

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML.
func WriteJUnit(w io.Writer, r *Report) error {
	out := junitSuites{Name: r.Title, Time: seconds(r.Duration)}
	for _, sc := range r.Scenarios {
		s := junitSuite{Name: sc.Name, File: sc.File, Time: seconds(sc.Duration), Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05")}
		if sc.Source != "" {
			s.Properties = append(s.Properties, junitProperty{"source", sc.Source})
		}
		if sc.Row != "" {
			s.Properties = append(s.Properties, junitProperty{"row", sc.Row})
		}
		if len(sc.Failures) > 0 {
			// Many CI systems read errors of testcases only: the
			// scenario's are those of a testcase of its own, first.
			s.Tests++
			s.Errors++
			class := sc.Row
			if class == "" {
				class = sc.Name
			}
			s.Cases = append(s.Cases, junitCase{Classname: class, Name: scenarioCase, File: sc.File, Time: seconds(sc.Duration),
				Error: &junitFailure{Message: sc.Failures[0], Type: "scenario", Text: strings.Join(sc.Failures, "\n")}})
		}
		for _, c := range sc.Cases {
			class := c.Row
			if class == "" {
				class = sc.Name
			}
			jc := junitCase{Classname: class, Name: c.ID, File: sc.File, Time: seconds(c.Duration), SystemOut: caseText(c)}
			s.Tests++
			switch c.Status {
			case Failed:
				s.Failures++
				jc.Failure = &junitFailure{Message: c.Failures[0], Type: "conformance", Text: strings.Join(c.Failures, "\n")}
			case Known:
				s.Skipped++
				jc.Skipped = &junitSkipped{Message: "known failure: " + c.KnownReason}
			}
			s.Cases = append(s.Cases, jc)
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// caseText is a case as plain lines: what it checks, then each step.
func caseText(c *Case) string {
	var b strings.Builder
	for _, d := range c.Description {
		b.WriteString(d)
		b.WriteByte('\n')
	}
	for _, st := range c.Steps {
		fmt.Fprintf(&b, "step %d %s: %s", st.Index, st.ID, st.What)
		if st.RequestID != "" {
			fmt.Fprintf(&b, " [%s]", st.RequestID)
		}
		if st.Kind == "request" {
			fmt.Fprintf(&b, " expected %s, got %s", st.Expected, st.Got)
		}
		if st.StatusBefore != "" || st.StatusAfter != "" {
			fmt.Fprintf(&b, "; SMI %s -> %s", orDash(st.StatusBefore), orDash(st.StatusAfter))
		}
		fmt.Fprintf(&b, "; %s", st.Elapsed.Round(time.Microsecond))
		if st.Target > 0 {
			fmt.Fprintf(&b, " of %s", st.Target)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes the report as indented JSON, with its summary.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Summary Summary `json:"summary"`
		*Report
	}{r.Summary(), r})
}
