package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page (inline CSS,
// no scripts, nothing fetched): the summary first, then what failed, the
// tables per role and per service, and every case with its steps.
func WriteHTML(w io.Writer, r *Report) error {
	var roles, rows []string
	roleLabel, rowLabel := map[string]Label{}, map[string]Label{}
	for _, l := range r.RoleIndex {
		roles = append(roles, l.Code)
		roleLabel[l.Code] = l
	}
	for _, l := range r.RowIndex {
		rows = append(rows, l.Code)
		rowLabel[l.Code] = l
	}
	type group struct {
		Group
		Label  Label
		Status string
	}
	wrap := func(gs []Group, labels map[string]Label) []group {
		out := make([]group, len(gs))
		for i, g := range gs {
			st := Passed
			switch {
			case g.Failed > 0:
				st = Failed
			case g.Known > 0:
				st = Known
			}
			out[i] = group{Group: g, Label: labels[g.Name], Status: st}
		}
		return out
	}
	var failed, known []*Case
	for _, sc := range r.Scenarios {
		for _, c := range sc.Cases {
			switch c.Status {
			case Failed:
				failed = append(failed, c)
			case Known, Fixed:
				known = append(known, c)
			}
		}
	}
	var survived []Mutant
	if r.Mutation != nil {
		for _, m := range r.Mutation.Mutants {
			if m.Status == "survived" {
				survived = append(survived, m)
			}
		}
	}
	data := struct {
		R        *Report
		S        Summary
		OK       bool
		ByRole   []group
		ByRow    []group
		Failed   []*Case
		Known    []*Case
		Survived []Mutant
	}{r, r.Summary(), r.OK(), wrap(r.ByRole(roles), roleLabel), wrap(r.ByRow(rows), rowLabel), failed, known, survived}
	return page.Execute(w, data)
}

var funcs = template.FuncMap{
	"dur": func(d time.Duration) string {
		switch {
		case d == 0:
			return "-"
		case d < time.Millisecond:
			return fmt.Sprintf("%d µs", d.Microseconds())
		case d < time.Second:
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
		case d < time.Minute:
			return fmt.Sprintf("%.2f s", d.Seconds())
		}
		return d.Round(time.Second).String()
	},
	"trt": func(d time.Duration) string {
		if d == 0 {
			return "N/A"
		}
		// "24h" and "30s" rather than "24h0m0s" and "30s".
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", f) },
	"share": func(f float64) string {
		if f < 0.001 {
			return "<0.1%"
		}
		return fmt.Sprintf("%.1f%%", 100*f)
	},
	"late": func(st *Step) bool { return st.Target > 0 && st.Elapsed > st.Target && st.Category == "on_demand" },
	"join": strings.Join,
	"dash": orDash,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"open": func(c *Case) bool { return c.Status == Failed },
	"scenarioStatus": func(sc *Scenario) string {
		st := Passed
		if len(sc.Failures) > 0 {
			return Failed
		}
		for _, c := range sc.Cases {
			switch c.Status {
			case Failed:
				return Failed
			case Known:
				st = Known
			}
		}
		return st
	},
	"counts": func(sc *Scenario) string {
		p, f, k := 0, 0, 0
		for _, c := range sc.Cases {
			switch c.Status {
			case Passed, Fixed:
				p++
			case Failed:
				f++
			case Known:
				k++
			}
		}
		s := fmt.Sprintf("%d passed", p)
		if f > 0 {
			s += fmt.Sprintf(", %d failed", f)
		}
		if k > 0 {
			s += fmt.Sprintf(", %d known", k)
		}
		return s
	},
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Title}}</title>
<style>
:root { --ok: #1a7f37; --bad: #cf222e; --known: #9a6700; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 0; background: #fff; }
header { background: #24292f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #c9d1d9; font-size: 13px; }
main { padding: 20px 32px 48px; max-width: 1400px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.summary { display: flex; gap: 16px; flex-wrap: wrap; align-items: stretch; margin-top: 8px; }
.verdict { font-size: 26px; font-weight: 700; padding: 14px 22px; border-radius: 8px; color: #fff; display: flex; align-items: center; }
.verdict.passed { background: var(--ok); } .verdict.failed { background: var(--bad); }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; background: var(--bg); }
.tile b { display: block; font-size: 22px; }
.tile span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile.bad b { color: var(--bad); } .tile.ok b { color: var(--ok); } .tile.known b { color: var(--known); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.passed, .badge.fixed { background: var(--ok); } .badge.failed { background: var(--bad); } .badge.known { background: var(--known); }
.bad { color: var(--bad); font-weight: 600; } .muted { color: var(--muted); }
details { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; background: #fff; }
details > summary { cursor: pointer; padding: 6px 10px; background: var(--bg); border-radius: 6px; }
details[open] > summary { border-bottom: 1px solid var(--line); border-radius: 6px 6px 0 0; }
details .body { padding: 6px 12px 10px; }
.case { border-left: 4px solid var(--ok); padding: 4px 10px; margin: 8px 0; }
.case.failed { border-left-color: var(--bad); background: #fff5f5; } .case.known { border-left-color: var(--known); background: #fffbea; }
.case p { margin: 2px 0; }
ul.fail { margin: 4px 0; padding-left: 18px; color: var(--bad); }
.note { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
<h1>{{.R.Title}}</h1>
<p>Gateway: <b>{{.R.Gateway}}</b>{{if .R.Roles}} · roles {{join .R.Roles ", "}}{{end}} · spec {{short .R.SpecHash}} · started {{time .R.Started}} · took {{dur .R.Duration}}</p>
</header>
<main>
<section id="summary">
<h2>Summary</h2>
<div class="summary">
<div class="verdict {{if .OK}}passed{{else}}failed{{end}}">{{if .OK}}PASSED{{else}}FAILED{{end}}</div>
<div class="tile"><b>{{.S.Cases}}</b><span>cases in {{.S.Scenarios}} scenarios</span></div>
<div class="tile ok"><b>{{.S.Passed}}</b><span>passed</span></div>
<div class="tile {{if .S.Failed}}bad{{end}}"><b>{{.S.Failed}}</b><span>failed</span></div>
{{if .S.Errors}}<div class="tile bad"><b>{{.S.Errors}}</b><span>scenario errors</span></div>{{end}}
<div class="tile {{if .S.Known}}known{{end}}"><b>{{.S.Known}}</b><span>known failures</span></div>
<div class="tile"><b>{{.S.Requests}}</b><span>requests sent</span></div>
<div class="tile {{if .S.Late}}bad{{else}}ok{{end}}"><b>{{.S.Late}} / {{.S.Timed}}</b><span>on-demand answers late</span></div>
{{with .R.Mutation}}<div class="tile {{if eq .Killed .Total}}ok{{else}}bad{{end}}"><b>{{pct .Score}}</b><span>mutation score ({{.Killed}}/{{.Total}})</span></div>{{end}}
</div>
<p id="summary-line">{{.S.Cases}} cases: {{.S.Passed}} passed, {{.S.Failed}} failed, {{.S.Known}} known failures{{if .S.Fixed}}, {{.S.Fixed}} known failures that now pass{{end}}{{if .S.Errors}}, {{.S.Errors}} scenario errors{{end}}.
{{.S.Timed}} on-demand Service Responses{{if .S.Late}}, <span class="bad">{{.S.Late}} later than their Target Response Time</span>{{else}}, all within their Target Response Times{{end}}; the slowest took {{dur .S.Slowest}} ({{share .S.SlowestShare}} of its target).</p>
</section>

{{if or .Failed .S.Errors}}<section id="failures">
<h2>Failures</h2>
{{range .R.Scenarios}}{{if .Failures}}<div class="case failed"><p><span class="badge failed">error</span> <b>{{.Name}}</b> <span class="muted">{{.File}}</span></p>
<ul class="fail">{{range .Failures}}<li class="mono">{{.}}</li>{{end}}</ul></div>
{{end}}{{end}}{{range .Failed}}{{template "case" .}}{{end}}
</section>{{end}}

{{if .Known}}<section id="known">
<h2>Known failures</h2>
<p class="note">Cases that fail for a reason the project knows; they do not fail the run. One that passes again is marked <span class="badge fixed">fixed</span>: take it off the list.</p>
<table><tr><th>case</th><th>row</th><th>role</th><th>status</th><th>why</th><th>got</th></tr>
{{range .Known}}<tr><td class="mono">{{.Key}}</td><td>{{.Row}}</td><td>{{.Role}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td><td>{{.KnownReason}}</td><td>{{range .Failures}}<div class="mono">{{.}}</div>{{end}}</td></tr>
{{end}}</table>
</section>{{end}}

<section id="roles">
<h2>Per role</h2>
<table><tr><th>role</th><th></th><th class="num">cases</th><th class="num">passed</th><th class="num">failed</th><th class="num">known</th><th class="num">slowest on demand</th><th></th></tr>
{{range .ByRole}}<tr><td><b>{{.Name}}</b></td><td>{{if .Label.Label}}{{.Label.Label}}{{else}}<span class="muted">no sender (device events)</span>{{end}}</td><td class="num">{{.Cases}}</td><td class="num">{{.Passed}}</td><td class="num{{if .Failed}} bad{{end}}">{{.Failed}}</td><td class="num">{{.Known}}</td><td class="num">{{dur .Slowest}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td></tr>
{{end}}</table>
</section>

<section id="services">
<h2>Per service</h2>
<p class="note">Target Response Times from the schedule (on demand / future dated); the slowest on-demand answer the gateway gave for the row's cases, wall time.</p>
<table><tr><th>row</th><th>service</th><th class="num">on demand</th><th class="num">future dated</th><th class="num">cases</th><th class="num">passed</th><th class="num">failed</th><th class="num">known</th><th class="num">slowest</th><th></th></tr>
{{range .ByRow}}<tr><td><b><a href="#row-{{.Name}}">{{.Name}}</a></b></td><td>{{.Label.Label}}</td><td class="num">{{trt .Label.OnDemand}}</td><td class="num">{{trt .Label.FutureDated}}</td><td class="num">{{.Cases}}</td><td class="num">{{.Passed}}</td><td class="num{{if .Failed}} bad{{end}}">{{.Failed}}</td><td class="num">{{.Known}}</td><td class="num">{{dur .Slowest}}</td><td><span class="badge {{.Status}}">{{.Status}}</span></td></tr>
{{end}}</table>
</section>

{{with .R.Mutation}}<section id="mutation">
<h2>Mutation analysis</h2>
<p>{{.Total}} mutants of the spec and the policy (one fact changed each), {{.Killed}} killed by at least one case: score <b>{{pct .Score}}</b>{{if .Invalid}}; {{.Invalid}} more did not load and are not counted{{end}}. Took {{dur .Duration}}.</p>
{{if $.Survived}}<h3 class="bad">Survived</h3>
<table><tr><th>mutant</th><th>kind</th><th>what changed</th></tr>
{{range $.Survived}}<tr><td class="mono">{{.ID}}</td><td>{{.Kind}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
<details><summary>All {{len .Mutants}} mutants</summary><div class="body">
<table><tr><th>mutant</th><th>kind</th><th>what changed</th><th>status</th><th>killed by</th><th class="num">files</th><th class="num">time</th></tr>
{{range .Mutants}}<tr><td class="mono">{{.ID}}</td><td>{{.Kind}}</td><td>{{.Description}}</td><td>{{.Status}}</td><td class="mono">{{.KilledBy}}{{if .Detail}}<div class="muted">{{.Detail}}</div>{{end}}</td><td class="num">{{.Files}}</td><td class="num">{{dur .Duration}}</td></tr>
{{end}}</table></div></details>
</section>{{end}}

<section id="cases">
<h2>Scenarios and cases</h2>
{{range .R.Scenarios}}<details id="{{if .Row}}row-{{.Row}}{{else}}file-{{.File}}{{end}}"{{if eq (scenarioStatus .) "failed"}} open{{end}}><summary><span class="badge {{scenarioStatus .}}">{{scenarioStatus .}}</span> <b>{{.Name}}</b> <span class="muted">{{.File}} · {{len .Cases}} cases, {{counts .}} · {{dur .Duration}}</span></summary><div class="body">
{{if .Source}}<p class="note">Source: {{.Source}}</p>{{end}}
{{range .Failures}}<p class="bad">{{.}}</p>{{end}}
{{range .Cases}}{{template "case" .}}{{end}}
</div></details>
{{end}}
</section>
</main>
</body>
</html>
{{define "case"}}<div class="case {{.Status}}" id="case-{{.Key}}">
<p><span class="badge {{.Status}}">{{.Status}}</span> <b class="mono">{{.Key}}</b>{{if .Role}} · {{.Role}} <span class="mono muted">{{.User}}</span>{{end}}{{if .Row}} · row {{.Row}}{{end}} · {{dur .Duration}}</p>
{{range .Description}}<p class="muted">{{.}}</p>{{end}}
{{if .KnownReason}}<p><b>Known failure:</b> {{.KnownReason}}</p>{{end}}
{{if .Failures}}<ul class="fail">{{range .Failures}}<li class="mono">{{.}}</li>{{end}}</ul>{{end}}
<table><tr><th>step</th><th>what</th><th>request ID</th><th>expected</th><th>got</th><th>SMI before → after</th><th class="num">time</th><th class="num">target</th></tr>
{{range .Steps}}<tr><td class="mono">{{.Index}} {{.ID}}</td><td>{{.What}}{{range $k, $v := .Later}}<div class="muted">{{$k}}: {{$v}}</div>{{end}}</td><td class="mono">{{dash .RequestID}}</td><td>{{.Expected}}</td><td{{if .Failures}} class="bad"{{end}}>{{.Got}}{{if .Got.Clause}}<div class="muted">{{.Got.Clause}}</div>{{end}}</td><td class="mono">{{if .Device}}{{dash .StatusBefore}} → {{dash .StatusAfter}}{{end}}</td><td class="num{{if late .}} bad{{end}}">{{dur .Elapsed}}</td><td class="num">{{if .Target}}{{trt .Target}}{{end}}</td></tr>
{{end}}</table>
</div>{{end}}
`))
