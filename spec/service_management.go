package spec

import (
	"fmt"
	"sort"
	"strconv"
	"time"
	// The protected hours name an IANA time zone, embedded so that a
	// machine without a zone database loads the spec too.
	_ "time/tzdata"
)

// ServiceManagement is spec/service_management.cue: DCC Service Management
// (para 206-216), Incident Management (para 217-237), the Self-Service
// Interface (para 238-252) and the Service Desk (para 253-255).
type ServiceManagement struct {
	Clause      string         `json:"clause"`
	Incidents   IncidentPolicy `json:"incidents"`
	WorkingDays WorkingDays    `json:"working_days"`
	Maintenance Maintenance    `json:"maintenance"`
	Releases    Releases       `json:"releases"`
	SSI         SSI            `json:"ssi"`
	ServiceDesk ServiceDesk    `json:"service_desk"`
}

// IncidentPolicy is what the Incident Management Policy sets (para 224).
type IncidentPolicy struct {
	Clause     string                      `json:"clause"`
	Categories map[string]IncidentCategory `json:"categories"`
	Priorities []string                    `json:"priorities"`
	// Measures maps an incident measure (measures 4 and 5) to the
	// categories it counts.
	Measures           map[string][]string          `json:"measures"`
	Statuses           []string                     `json:"statuses"`
	Transitions        []IncidentTransition         `json:"transitions"`
	RequiresDiagnostic bool                         `json:"requires_diagnostic"`
	Diagnostics        map[string]IncidentDiagnosis `json:"diagnostics"`
	DiagnosticClause   string                       `json:"diagnostic_clause"`
	RaisedByUsersOnly  bool                         `json:"raised_by_users_only"`
	RaisedByClause     string                       `json:"raised_by_clause"`
	Areas              map[string]IncidentArea      `json:"areas"`
	Major              MajorIncidents               `json:"major"`
}

// IncidentCategory is one incident category with its Target Resolution Time.
type IncidentCategory struct {
	Name             string   `json:"name"`
	TargetResolution Duration `json:"target_resolution"`
	Priority         string   `json:"priority"`
}

// IncidentTransition is a status change the log allows.
type IncidentTransition struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// IncidentDiagnosis is a remote diagnostic tool (para 226).
type IncidentDiagnosis struct {
	Name   string `json:"name"`
	Clause string `json:"clause"`
}

// IncidentArea is what an incident can be about (para 228-231).
type IncidentArea struct {
	Name   string `json:"name"`
	Clause string `json:"clause"`
}

// MajorIncidents are the rules of para 233-235.
type MajorIncidents struct {
	Clause               string `json:"clause"`
	ReviewDueWorkingDays int    `json:"review_due_working_days"`
	ReviewClause         string `json:"review_clause"`
	ManagersClause       string `json:"managers_clause"`
}

// WorkingDays says which days are working days.
type WorkingDays struct {
	Weekend  []string `json:"weekend"`
	Holidays []string `json:"holidays"`
}

// IsWorkingDay reports whether the calendar day of t (in t's location) is
// a working day.
func (w WorkingDays) IsWorkingDay(t time.Time) bool {
	day := t.Weekday().String()
	for _, d := range w.Weekend {
		if d == day {
			return false
		}
	}
	date := t.Format(time.DateOnly)
	for _, h := range w.Holidays {
		if h == date {
			return false
		}
	}
	return true
}

// AddWorkingDays returns the end of the n-th working day after t: the
// first instant (midnight, in t's location) after n whole working days
// following the day of t.
func (w WorkingDays) AddWorkingDays(t time.Time, n int) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if w.IsWorkingDay(d) {
			n--
		}
	}
	return d.AddDate(0, 0, 1)
}

// Maintenance is planned maintenance of the DCC's systems (para 213).
type Maintenance struct {
	Clause                string         `json:"clause"`
	PublishBeforeMonth    bool           `json:"publish_before_month"`
	MaxDisruptionPerMonth Duration       `json:"max_disruption_per_month"`
	ProtectedHours        ProtectedHours `json:"protected_hours"`
	Action                string         `json:"action"`
	ReasonCode            string         `json:"reason_code"`
	Measures              string         `json:"measures"`
}

// ProtectedHours are the hours in which maintenance needs Panel agreement.
type ProtectedHours struct {
	From            string `json:"from"`
	To              string `json:"to"`
	TimeZone        string `json:"time_zone"`
	WorkingDaysOnly bool   `json:"working_days_only"`
}

// Releases are the release rules (para 209-216).
type Releases struct {
	Clause       string                 `json:"clause"`
	Kinds        map[string]ReleaseKind `json:"kinds"`
	ChangeFreeze []ChangeFreeze         `json:"change_freeze"`
}

// ReleaseKind is a kind of release with its notice period.
type ReleaseKind struct {
	Notice       Duration `json:"notice"`
	DuringFreeze bool     `json:"during_freeze"`
}

// ChangeFreeze is a yearly period ("12-15" to "01-04") without releases.
type ChangeFreeze struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// SSI is the Self-Service Interface (para 238-252).
type SSI struct {
	Clause              string     `json:"clause"`
	HistoryOnlineMonths int        `json:"history_online_months"`
	ArchiveYears        int        `json:"archive_years"`
	HistoryClause       string     `json:"history_clause"`
	MaxSessionsPerUser  int        `json:"max_sessions_per_user"`
	SessionsClause      string     `json:"sessions_clause"`
	SessionIdle         Duration   `json:"session_idle"`
	ChallengeValid      Duration   `json:"challenge_valid"`
	AuthClause          string     `json:"auth_clause"`
	EntryClause         string     `json:"entry_clause"`
	IsolationClause     string     `json:"isolation_clause"`
	Downloads           []Download `json:"downloads"`
}

// Download is a form or guide users can download.
type Download struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// ServiceDesk is the Service Desk (para 253-255).
type ServiceDesk struct {
	Clause string                `json:"clause"`
	Kinds  map[string]TicketKind `json:"kinds"`
}

// TicketKind is a kind of Service Desk ticket.
type TicketKind struct {
	Name     string `json:"name"`
	NonUsers bool   `json:"non_users"`
}

// CategoryCodes returns the incident category codes in order ("1" .. "5").
func (p IncidentPolicy) CategoryCodes() []string {
	out := make([]string, 0, len(p.Categories))
	for c := range p.Categories {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// InFreeze reports whether the day of t falls in a change-freeze, and which.
func (r Releases) InFreeze(t time.Time) (ChangeFreeze, bool) {
	md := t.Format("01-02")
	for _, f := range r.ChangeFreeze {
		if f.From <= f.To && md >= f.From && md <= f.To {
			return f, true
		}
		if f.From > f.To && (md >= f.From || md <= f.To) { // across the new year
			return f, true
		}
	}
	return ChangeFreeze{}, false
}

// checkServiceManagement runs the rules of service_management that CUE
// cannot say alone.
func (s *Spec) checkServiceManagement(at func(p string, format string, args ...any)) {
	sm := s.ServiceManagement
	prio := map[string]bool{}
	for _, p := range sm.Incidents.Priorities {
		prio[p] = true
	}
	var prev Duration
	for _, c := range sm.Incidents.CategoryCodes() {
		cat := sm.Incidents.Categories[c]
		p := "service_management.incidents.categories." + strconv.Quote(c)
		if !prio[cat.Priority] {
			at(p+".priority", "incident category %s has priority %q, which is not one of incidents.priorities", c, cat.Priority)
		}
		if cat.TargetResolution < prev {
			at(p+".target_resolution", "incident category %s resolves sooner (%s) than a more urgent category (%s)", c, cat.TargetResolution.Format(), prev.Format())
		}
		prev = cat.TargetResolution
	}
	if sm.Maintenance.ReasonCode != "" {
		found := false
		for _, r := range s.Reasons {
			found = found || r.Code == sm.Maintenance.ReasonCode
		}
		if !found {
			at("service_management.maintenance.reason_code", "reason %s is not in reasons", sm.Maintenance.ReasonCode)
		}
	}
	if _, err := time.LoadLocation(sm.Maintenance.ProtectedHours.TimeZone); err != nil {
		at("service_management.maintenance.protected_hours.time_zone", "unknown time zone: %v", err)
	}
	for i, f := range sm.Releases.ChangeFreeze {
		for _, md := range []string{f.From, f.To} {
			if _, err := time.Parse("01-02", md); err != nil {
				at(fmt.Sprintf("service_management.releases.change_freeze[%d]", i), "%q is not a month-day", md)
			}
		}
	}
	for i, h := range sm.WorkingDays.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			at(fmt.Sprintf("service_management.working_days.holidays[%d]", i), "%q is not a date", h)
		}
	}
}
