# The checks of para 134 on one Service Request, decided over the spec
# (data.spec) and the facts the runtime loads (input.facts).
#
# `decision` is the reference: the first failing check, in the order of
# para 134 as the public scenario format states it, with its reason code and
# clause. `tables` is everything that depends on the spec alone; the engine
# evaluates it once at load time and decides from lookups, and a test checks
# that both agree on every case it generates.
package dccgate.gateway

import data.dccgate.inventory

# ---------------------------------------------------------------- tables

tables := {
	"services": services,
	"local_statuses": local_statuses,
	"registration": registration,
	"checks": checks,
	"moves": [row | some row in inventory.table],
	"move_events": move_events,
	"inventory_changing": inventory_changing,
	"deferred_when_held": deferred_when_held,
}

# inventory_changing: the services whose requests change the Smart Metering
# Inventory (a transition of their target, or of the devices they list).
inventory_changing contains t.service if {
	some t in data.spec.transitions
	t.service
}

# deferred_when_held: the checks of the device's state on the inventory. A
# request held behind one that changes the inventory (para 126-127: the DCC
# holds it "until the former has returned a successful Service Response")
# is put to them when it is released, against the inventory then, not when
# it arrives, against a state its predecessor is there to change (a meter
# commissioned before the devices associated with it, para 171, 187).
deferred_when_held := {"DEVICE_STATUS", "CHF_NOT_COMMISSIONED", "METER_NOT_COMMISSIONED", "MPXN_HAS_METER"}

# held_behind_inventory: the request is held behind an unfinished request
# of a service that changes the inventory (facts.held_behind, its row key).
held_behind_inventory if split(object.get(facts, "held_behind", ""), "/")[0] in inventory_changing

# move_events: per service whose target device a transition moves, the
# event (12.2 prenotify, 8.1 commission, 8.3, 8.4, 8.5).
move_events[t.service] := t.event if {
	some t in data.spec.transitions
	t.service in inventory.services_with_moves
}

# services: per row key, what the checks need to know of it.
services[key] := row if {
	some s in data.spec.services
	key := service_key(s)
	row := {
		"key": key,
		"ref": s.ref,
		"critical": s.critical,
		"device_service": s.device_service,
		"alert": s.alert,
		"categories": {
			"on_demand": s.on_demand != null,
			"future_dated": s.future_dated != null,
			"scheduled": object.get(s, "scheduled", null) != null,
		},
		"local": local_allowed(s),
		"roles": {r | some r in s.roles},
		"target": s.target,
		"targets": {t | some t in s.targets},
		"statuses": {st | some st in s.statuses},
		"type2": type2_allowed(s),
		"registration": registration_rule(s),
		"commissions": object.get(s, "commissions", false),
		"creates_schedule": object.get(s, "creates_schedule", false),
		"device_log": {kind: names |
			some kind in ["add", "remove"]
			names := [f.name | some f in s.fields; object.get(f, "device_log", "") == kind]
		},
		"clause": s.clause,
	}
}

service_key(s) := concat("/", [s.ref, s.variant]) if object.get(s, "variant", "") != ""

service_key(s) := s.ref if object.get(s, "variant", "") == ""

# Note 405: only the listed rows may be aimed at a Type 2 Device.
default type2_allowed(_) := false

type2_allowed(s) if {
	some n in data.spec.note405.services
	n.ref == s.ref
	object.get(n, "variant", "") == object.get(s, "variant", "")
}

# Note 406: local delivery is a way of delivering a Command.
default local_allowed(_) := false

local_allowed(s) if {
	s.device_service
	not s.alert
}

local_allowed(s) if not data.spec.note406.device_services_only

# How the Registration Data check applies to a row.
registration_rule(s) := "none" if s.alert
registration_rule(s) := s.registration if {
	not s.alert
	s.registration
}

# Para 139: an activity of the DCC is not checked against Registration Data
# (unless its row says so: a change to a device's entry, para 175-181).
registration_rule(s) := "skip" if {
	not s.alert
	not s.registration
	not s.device_service
}

# Footnote 13: critical Commands are refused by the Device itself.
registration_rule(s) := "skip" if {
	not s.registration
	s.device_service
	not s.alert
	s.critical
}

registration_rule(s) := "check" if {
	not s.registration
	s.device_service
	not s.alert
	not s.critical
}

# local_statuses: per role, the statuses in which note 406 allows it a
# Command for Local Delivery.
local_statuses[r.code] := {st | some st in r.local_statuses} if some r in data.spec.roles

# registration: per role, which Registration Data field names it, for which
# fuel. Roles that Registration Data does not name pass on their role alone.
registration[r.code] := r.registration if {
	some r in data.spec.roles
	r.registration
}

# checks: the order in which checks run, each with the clause of its reason.
check_order := [
	"MALFORMED",
	"CATEGORY_NOT_AVAILABLE",
	"UNKNOWN_USER",
	"USER_SUSPENDED",
	"ROLE_NOT_ELIGIBLE",
	"DEVICE_UNKNOWN",
	"TYPE2_NOT_SUPPORTED",
	"DEVICE_TYPE",
	"DEVICE_STATUS",
	"CHF_NOT_COMMISSIONED",
	"METER_NOT_COMMISSIONED",
	"MPXN_HAS_METER",
	"NOT_REGISTERED",
	"CERTIFICATE_INVALID",
	"SIGNATURE_INVALID",
	"ANOMALY",
]

checks := [c |
	some code in check_order
	some r in data.spec.reasons
	r.code == code
	c := {"code": code, "clause": r.clause, "outcome": r.outcome}
]

# ---------------------------------------------------------------- decision

req := input.request

# req_key is the row key the request asks for ("4.1", "1.1/credit").
req_key := concat("/", [req.service, req.variant]) if object.get(req, "variant", "") != ""

req_key := req.service if object.get(req, "variant", "") == ""

facts := input.facts

# row is the schedule row asked for; for 5.1 Create Schedule the device and
# role checks also apply to the scheduled service (inner).
row := services[req_key]

inner := services[req.schedule.service] if row.creates_schedule

# fail contains every failing check as {code, detail}; decision takes the
# first in check order.
fail contains {"code": "MALFORMED", "detail": sprintf("unknown service %s", [req_key])} if {
	not services[req_key]
}

fail contains {"code": "MALFORMED", "detail": sprintf("%s is an alert service, not a Service Request", [row.key])} if row.alert

fail contains {"code": "MALFORMED", "detail": msg} if some msg in object.get(facts, "field_errors", [])

fail contains {"code": "MALFORMED", "detail": "a future dated request needs an execution time after now"} if {
	req.category == "future_dated"
	not future_time_ok
}

future_time_ok if time.parse_rfc3339_ns(req.execute_at) > time.parse_rfc3339_ns(facts.now)

fail contains {"code": "MALFORMED", "detail": "an execution time is for a future dated request; an on demand request runs now"} if {
	req.category == "on_demand"
	object.get(req, "execute_at", "") != ""
}

fail contains {"code": "MALFORMED", "detail": "the service needs a target device"} if {
	row.target in {"device", "new_device"}
	object.get(req, "device_id", "") == ""
}

fail contains {"code": "MALFORMED", "detail": "Create Schedule needs a schedule naming a known service"} if {
	row.creates_schedule
	not inner
}

fail contains {"code": "MALFORMED", "detail": sprintf("unknown category %v", [req.category])} if {
	not req.category in {"on_demand", "future_dated", "scheduled"}
}

fail contains {"code": "MALFORMED", "detail": sprintf("unknown delivery %v", [req.delivery])} if {
	not req.delivery in {"wan", "local", "both"}
}

fail contains {"code": "CATEGORY_NOT_AVAILABLE", "detail": sprintf("%s is not available for %s", [req.category, row.key])} if {
	req.category in {"on_demand", "future_dated"}
	not row.categories[req.category]
}

# Scheduled services are created with 5.1 (note 404), never sent directly.
fail contains {"code": "CATEGORY_NOT_AVAILABLE", "detail": sprintf("%s cannot be sent as scheduled; use Create Schedule", [row.key])} if {
	req.category == "scheduled"
}

fail contains {"code": "CATEGORY_NOT_AVAILABLE", "detail": sprintf("%s is not available as a Scheduled Service (note 404)", [inner.key])} if {
	inner
	not inner.categories.scheduled
}

fail contains {"code": "CATEGORY_NOT_AVAILABLE", "detail": sprintf("a Command for Local Delivery is not available for %s", [row.key])} if {
	req.delivery in {"local", "both"}
	not row.local
}

fail contains {"code": "UNKNOWN_USER", "detail": "the User ID has not completed user entry"} if not facts.user.known

fail contains {"code": "USER_SUSPENDED", "detail": "the user's rights are suspended"} if facts.user.suspended

fail contains {"code": "ROLE_NOT_ELIGIBLE", "detail": sprintf("%s is not an eligible role for %s", [facts.user.role, row.key])} if {
	not row.roles[facts.user.role]
}

fail contains {"code": "ROLE_NOT_ELIGIBLE", "detail": sprintf("%s is not an eligible role for the scheduled service %s", [facts.user.role, inner.key])} if {
	inner
	not inner.roles[facts.user.role]
}

# effective is the row whose device and registration rules apply.
effective := inner if inner

effective := row if not inner

device_checked if effective.target == "device"

# 8.2 by Device ID is aimed at that device too (note 405: no service but
# 8.7, 8.8 Type 2 and 8.11 for a Type 2 Device).
aimed_at_device if device_checked

aimed_at_device if effective.target == "inventory_query"

fail contains {"code": "DEVICE_UNKNOWN", "detail": "the device is not on the Smart Metering Inventory"} if {
	device_checked
	not facts.device.known
}

# Para 182-184, 187: a device joins a hub's HAN (is installed) only once it
# has been notified to the DCC, on the Smart Metering Inventory. The facts
# list the devices the request names that the inventory holds.
fail contains {"code": "DEVICE_UNKNOWN", "detail": sprintf("%v, which the request adds to the Device Log, is not on the Smart Metering Inventory", [id])} if {
	some id in log_devices.add
	not object.get(facts, ["listed", id], false)
}

# log_devices: the Device IDs the request adds to (add) and removes from
# (remove) its hub's Device Log, from the fields the spec marks.
log_devices[kind] := {id |
	some name in effective.device_log[kind]
	some id in object.get(object.get(req, "body", {}), name, [])
} if some kind in ["add", "remove"]

fail contains {"code": "TYPE2_NOT_SUPPORTED", "detail": sprintf("%s is not available for a Type 2 Device", [effective.key])} if {
	aimed_at_device
	facts.device.known
	some t in data.spec.device_types
	t.code == facts.device.type
	t.class == "type2"
	not effective.type2
}

fail contains {"code": "DEVICE_TYPE", "detail": sprintf("%s cannot be aimed at a %s", [effective.key, facts.device.type])} if {
	device_checked
	facts.device.known
	not effective.targets[facts.device.type]
}

# Creating a schedule is the DCC's own activity (para 139): not the
# scheduled service's Command over the SMWAN, whose runs are checked as they
# run; the 5.1 row's statuses (para 125).
fail contains {"code": "DEVICE_STATUS", "detail": sprintf("status %s does not allow %s", [facts.device.status, row.key])} if {
	inner
	device_checked
	facts.device.known
	not row.statuses[facts.device.status]
}

fail contains {"code": "DEVICE_STATUS", "detail": sprintf("status %s does not allow %s over the SMWAN", [facts.device.status, effective.key])} if {
	not inner
	device_checked
	facts.device.known
	object.get(req, "delivery", "wan") in {"wan", "both"}
	not effective.statuses[facts.device.status]
}

# A Command over the SMWAN reaches a device through its Communications Hub
# Function: one decommissioned, withdrawn or not yet commissioned reaches
# nothing (para 168, 173, 177). Commissioning has its own refusal (para
# 187: CHF_NOT_COMMISSIONED).
fail contains {"code": "DEVICE_STATUS", "detail": sprintf("its Communications Hub Function is %s: the DCC cannot reach it over the SMWAN", [facts.device.chf_status])} if {
	not inner
	device_checked
	facts.device.known
	object.get(req, "delivery", "wan") in {"wan", "both"}
	effective.device_service
	not effective.commissions
	effective.statuses[facts.device.status]
	facts.device.type != "CHF"
	object.get(facts.device, "chf_status", "") != ""
	facts.device.chf_status != "commissioned"
}

# A device on no hub's Device Log (a meter removed from its hub's by 8.11)
# is on no HAN: the DCC cannot reach it over the SMWAN either (para 168).
fail contains {"code": "DEVICE_STATUS", "detail": "it is on no Communications Hub Function's Device Log: the DCC cannot reach it over the SMWAN"} if {
	not inner
	device_checked
	facts.device.known
	object.get(req, "delivery", "wan") in {"wan", "both"}
	effective.device_service
	not effective.commissions
	effective.statuses[facts.device.status]
	facts.device.type != "CHF"
	object.get(facts.device, "no_hub", false)
}

# A device added to a hub's Device Log must be in DCC Services: a withdrawn
# or decommissioned one comes back by pre-notification first (para 175-177,
# 182).
fail contains {"code": "DEVICE_STATUS", "detail": sprintf("%v, which the request adds to the Device Log, is %s: it receives no DCC Services (para 175-177)", [id, l.status])} if {
	some id in log_devices.add
	l := object.get(facts, ["listed", id], null)
	l != null
	some s in data.spec.statuses
	s.code == l.status
	not s.in_service
}

fail contains {"code": "DEVICE_STATUS", "detail": sprintf("status %s does not allow a Command for Local Delivery for %s (note 406)", [facts.device.status, facts.user.role])} if {
	device_checked
	facts.device.known
	req.delivery in {"local", "both"}
	not local_statuses[facts.user.role][facts.device.status]
}

# A request that moves its target device between statuses needs a move the
# inventory policy allows: from its status ("none" if not on the inventory,
# for a pre-notification), for its class and the sender's kind of role.
fail contains {"code": "DEVICE_STATUS", "detail": sprintf("no %s move from %s for a %s by %s", [move_events[effective.ref], move_from, move_type, facts.user.role])} if {
	move_events[effective.ref]
	move_subject
	not inventory.move with input as {
		"event": move_events[effective.ref],
		"from": move_from,
		"device_type": move_type,
		"role": facts.user.role,
		"requested": object.get(object.get(req, "body", {}), "status", ""),
	}
}

move_subject if facts.device.known

move_subject if effective.target == "new_device"

move_from := facts.device.status if facts.device.known

move_from := "none" if not facts.device.known

# A pre-notified device's type is the one the request gives.
move_type := object.get(object.get(req, "body", {}), "type", "") if effective.target == "new_device"

move_type := facts.device.type if effective.target != "new_device"

# Para 187, for the service that commissions a Device.
fail contains {"code": "CHF_NOT_COMMISSIONED", "detail": "the Communications Hub Function is not commissioned"} if {
	commissioning
	object.get(facts.device, "chf_status", "") != "commissioned"
}

fail contains {"code": "METER_NOT_COMMISSIONED", "detail": "the meter the device is to be associated with is not commissioned"} if {
	commissioning
	not device_is_meter
	object.get(facts.device, "meter_status", "") != "commissioned"
}

fail contains {"code": "MPXN_HAS_METER", "detail": "the MPxN already has a commissioned meter"} if {
	commissioning
	device_is_meter
	facts.device.mpxn_has_meter
}

commissioning if {
	effective.commissions
	device_checked
	facts.device.known
}

device_is_meter if {
	some t in data.spec.device_types
	t.code == facts.device.type
	t.class == "meter"
}

# Para 139: creating a schedule is an activity of the DCC, not checked
# against the Registration Data; each run is, when it runs (the gateway).
fail contains {"code": "NOT_REGISTERED", "detail": sprintf("the user is not the registered %s for the device's MPxN", [registration[facts.user.role].field])} if {
	not inner
	effective.registration in {"check", "execution_date"}
	registration[facts.user.role]
	not registered
	not object.get(facts.device, "unbound", false) # it relates to no MPxN: no one is named for it
	not registered_for_logged
}

# A device the request adds to or removes from its hub's Device Log that
# relates to an MPxN of its own (a meter, a Gas Proxy Function, a Type 1
# Device associated with a meter) is that MPxN's supplier's: at a hub two
# suppliers share, neither adds or removes the other's (para 134, footnote
# 13, para 184). A Type 2 Device serves the premises, not one meter.
fail contains {"code": "NOT_REGISTERED", "detail": sprintf("the user is not the registered %s for the MPxN of %v, which the request adds to or removes from the Device Log", [registration[facts.user.role].field, id])} if {
	not inner
	effective.registration in {"check", "execution_date"}
	registration[facts.user.role]
	some id in log_devices.add | log_devices.remove
	foreign_listed(id)
}

foreign_listed(id) if {
	listed := object.get(facts, ["listed", id], {})
	count(object.get(listed, "registration", [])) > 0
	not type2_type(object.get(listed, "type", ""))
	not names_user(listed.registration)
}

type2_type(code) if {
	some t in data.spec.device_types
	t.code == code
	t.class == "type2"
}

names_user(recs) if {
	bind := registration[facts.user.role]
	some rec in recs
	rec.fuel == bind.fuel
	object.get(rec, bind.field, "") == req.user_id
}

# A hub is bound to the MPxNs of the meters already on it. At premises of
# two fuels the other fuel's supplier adds its own meter to that hub (para
# 184): a request to a hub's Device Log every device of which (one at
# least, added or removed) relates to an MPxN that names the user, at the
# premises of one of the hub's MPxNs, passes, as it touches only the
# user's own devices there. One that names any other device, or a hub at
# other premises, needs the hub's MPxNs.
registered_for_logged if {
	logged := log_devices.add | log_devices.remove
	count(logged) > 0
	every id in logged {
		listed_registered(id)
	}
}

listed_registered(id) if {
	bind := registration[facts.user.role]
	some rec in object.get(facts, ["listed", id, "registration"], [])
	rec.fuel == bind.fuel
	object.get(rec, bind.field, "") == req.user_id
	some hub_rec in object.get(facts, "registration", [])
	same_premises(rec, hub_rec)
}

# Two records of one premises: by postcode and premises number or name, or
# by UPRN (as 8.2 Read Inventory finds premises).
same_premises(a, b) if {
	object.get(a, "postcode", "") != ""
	object.get(a, "premises", "") != ""
	object.get(a, "postcode", "") == object.get(b, "postcode", "")
	object.get(a, "premises", "") == object.get(b, "premises", "")
}

same_premises(a, b) if {
	object.get(a, "uprn", "") != ""
	object.get(a, "uprn", "") == object.get(b, "uprn", "")
}

registered if {
	bind := registration[facts.user.role]
	some rec in object.get(facts, "registration", [])
	rec.fuel == bind.fuel
	object.get(rec, bind.field, "") == req.user_id
}

fail contains {"code": "CERTIFICATE_INVALID", "detail": "the certificate is expired, revoked or not the user's"} if {
	object.get(facts, ["credentials", "certificate_valid"], true) == false
}

fail contains {"code": "SIGNATURE_INVALID", "detail": "the credentials do not verify"} if {
	object.get(facts, ["credentials", "signature_valid"], true) == false
}

fail contains {"code": "ANOMALY", "detail": sprintf("%d requests in the window, more than the threshold of %d", [facts.anomaly.count, facts.anomaly.max])} if {
	# count is 0 where no threshold applies; a max of 0 quarantines them all
	facts.anomaly.count > facts.anomaly.max
}

# failing: the failing checks that are made now (not those deferred).
failing contains f if {
	some f in fail
	not deferred(f.code)
}

deferred(code) if {
	held_behind_inventory
	code in deferred_when_held
}

# decision: accepted, or the first failing check in order.
first := [f |
	some c in checks
	some f in failing
	f.code == c.code
][0]

decision := {"outcome": "accepted", "code": "", "clause": "", "detail": ""} if {
	row
	count(failing) == 0
}

decision := {"outcome": c.outcome, "code": first.code, "clause": clause_of(first.code), "detail": first.detail} if {
	some c in checks
	c.code == first.code
}

# The clause of a row-specific refusal names the row too.
clause_of(code) := sprintf("%s; %s (%s)", [c.clause, row.clause, row.key]) if {
	code in {"CATEGORY_NOT_AVAILABLE", "ROLE_NOT_ELIGIBLE", "DEVICE_TYPE", "DEVICE_STATUS"}
	row
	some c in checks
	c.code == code
}

clause_of(code) := c.clause if {
	not code in {"CATEGORY_NOT_AVAILABLE", "ROLE_NOT_ELIGIBLE", "DEVICE_TYPE", "DEVICE_STATUS"}
	some c in checks
	c.code == code
}

clause_of(code) := c.clause if {
	not row
	some c in checks
	c.code == code
}
