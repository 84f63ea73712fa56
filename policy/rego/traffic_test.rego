package dccgate.traffic_test

import data.dccgate.traffic

req(critical, category) := {"service": "4.1", "ref": "4.1", "critical": critical, "category": category}

decide(r, load, on) := d if {
	d := traffic.decision with input as {"request": r, "load": {"in_flight": load}, "enabled": on}
}

test_off_by_default if {
	not data.spec.traffic.enabled
	d := traffic.decision with input as {"request": req(false, "on_demand"), "load": {"in_flight": 100000}}
	d.action == "allow"
}

test_below_the_load_allowed if {
	decide(req(false, "on_demand"), data.spec.traffic.defer_at_in_flight - 1, true).action == "allow"
}

test_deferred_at_the_defer_load if {
	d := decide(req(false, "on_demand"), data.spec.traffic.defer_at_in_flight, true)
	d.action == "defer"
	d.reason == "TRAFFIC_DEFERRED"
	d.defer_for == data.spec.traffic.defer_for
	d.clause == "para 273"
}

test_refused_at_the_refuse_load if {
	d := decide(req(false, "on_demand"), data.spec.traffic.refuse_at_in_flight, true)
	d.action == "refuse"
	d.reason == "TRAFFIC_REFUSED"
	some r in data.spec.reasons
	r.code == d.reason
	r.clause == d.clause
}

test_critical_never_managed if {
	decide(req(true, "on_demand"), data.spec.traffic.refuse_at_in_flight * 2, true).action == "allow"
}

test_future_dated_not_managed if {
	decide(req(false, "future_dated"), data.spec.traffic.refuse_at_in_flight * 2, true).action == "allow"
}

test_exempt_service_not_managed if {
	d := traffic.decision with input as {"request": req(false, "on_demand"), "load": {"in_flight": 100000}, "enabled": true}
		with data.spec.traffic.exempt as ["4.1"]
	d.action == "allow"
}

# quiet_below holds: below it every request is allowed, whatever else.
test_quiet_below_is_quiet if {
	every c in [true, false] {
		every cat in ["on_demand", "future_dated", "scheduled"] {
			decide(req(c, cat), traffic.quiet_below - 1, true).action == "allow"
		}
	}
}
