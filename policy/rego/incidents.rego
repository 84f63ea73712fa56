# Incident Management (para 217-237): who may raise an incident, who is
# responsible for resolving it and who is interested, and which status may
# follow which. The categories, areas and transitions are data
# (data.spec.service_management.incidents); the incidents package executes
# what this decides.
#
# `raise` decides whether an incident may be raised:
#
#   input.raiser:          {user (a DCC User), entered (completed User Entry)}
#   input.incident:        {area (an areas key), device_id ("" if none)}
#   input.diagnostic:      {tool, result, device_id} or absent: the caller's
#                          remote diagnostic attached (the runtime runs it
#                          only on a device of the caller's portfolio)
#   input.diagnosis_named: a diagnostic was named (whether or not it is one
#                          the caller ran)
#   input.request:         {given, own (the caller's Service Request)} or
#                          absent
#   input.device:          {type, meter_type}: the device the incident is
#                          about (the one named, else the diagnostic's);
#                          type "" if none, or not on the inventory
#   input.lengths:         {title, description}: the characters written
#
# `step` decides a step on an incident beside the change of status that
# `transition_allowed` decides:
#
#   input.action:   update (a note or diagnostic data), recategorise, or
#                   the note of resolve, close, allocate, review
#   input.actor:    {dcc (the DCC takes the step)}
#   input.incident: {status}
#   input.lengths:  {note, data_bytes}
#
# `responsibility` allocates one incident:
#
#   input.incident:  {area (an areas key), needs_visit (bool)}
#   input.device:    {type (CHF, GPF, ESME, GSME, IHD, PPMID, ...),
#                     meter_type (the type of the meter a non-meter device
#                     is associated with, "" if none)}
#   input.suppliers: {electricity_import, electricity_export, gas_import}:
#                    the User IDs registered for the premises' MPxNs ("" if
#                    none), from the Registration Data and the inventory.
#
# The answer names the party ("dcc" or "supplier"), the supplier's User ID
# and which supplier it is, the interested parties and the clause; where
# it can name no one (no supplier registered), party "" and the rule
# awaiting_dcc_allocation: the DCC allocates it (para 227).
package dccgate.incidents

pol := data.spec.service_management.incidents

dcc_areas := {"smwan", "data_services", "hub_remote_maintenance", "hub_remote_upgrade"}

# ---------------------------------------------------------------- raising

default raise := {"allowed": true}

# Para 254: SEC Parties that are not DCC Users raise general queries at the
# Service Desk, not incidents; para 240: only users who completed User Entry.
raise := {"allowed": false, "code": "NOT_A_USER", "clause": pol.raised_by_clause} if {
	pol.raised_by_users_only
	not _entered_user
}

# Para 226-227: the remote diagnostic tools come first, where they can
# diagnose something.
else := {"allowed": false, "code": "DIAGNOSTIC_REQUIRED", "clause": pol.diagnostic_clause} if {
	_needs_diagnostic
	not _diagnosed
}

# A diagnostic named must be one the caller ran (and not attached to an
# incident already), also where none is needed.
else := {"allowed": false, "code": "DIAGNOSTIC_REQUIRED", "clause": pol.diagnostic_clause} if {
	input.diagnosis_named
	not _diagnosed
}

# Para 226-227, 250: the diagnostic is of the device the incident is about;
# a diagnostic of one's own device does not open an incident on another
# party's (the incident without a device takes the diagnostic's).
else := {"allowed": false, "code": "DIAGNOSTIC_NOT_OF_DEVICE", "clause": pol.diagnostic_clause} if {
	_diagnosed
	input.incident.device_id != ""
	input.diagnostic.device_id != input.incident.device_id
}

# Para 250: a Service Request named is one of the caller's.
else := {"allowed": false, "code": "NOT_VISIBLE", "clause": data.spec.service_management.ssi.isolation_clause} if {
	input.request.given
	not input.request.own
}

# Para 228-229: an area about one kind of device is raised about a device
# of that kind: a Smart Meter's about a meter, an IHD's about an IHD, the
# hub's remote maintenance and upgrades about a Device of the hub. Raised
# about another, no one would be responsible for it (a hub has no meter
# supplier), and it would stay open unowned.
else := {"allowed": false, "code": "AREA_NOT_OF_DEVICE", "clause": pol.areas[input.incident.area].clause, "types": sort(area_device_types[input.incident.area])} if {
	area_device_types[input.incident.area]
	not area_device_types[input.incident.area][object.get(input, ["device", "type"], "")]
}

# Para 225, 244: what is written into the log is bounded.
else := _too_long_refusal if count(too_long) > 0

# area_device_types are the device types an incident of an area is about,
# for the areas about one kind of device (the others may name any device,
# or none).
area_device_types := {
	"smart_meter": _types_of_class("meter"),
	"ihd": {"IHD"},
	"hub_remote_maintenance": _types_of_class("hub"),
	"hub_remote_upgrade": _types_of_class("hub"),
}

_types_of_class(c) := {t.code | some t in data.spec.device_types; t.class == c}

# system_areas are the areas about the DCC's own systems (the data
# services and the User Gateway, para 228): the remote diagnostic tools
# diagnose devices, so an incident there that names no device has nothing
# they could diagnose, and is raised without a diagnostic (para 227: "if
# an incident cannot be diagnosed ... using the remote diagnostic tools").
system_areas := {"data_services"}

_needs_diagnostic if {
	pol.requires_diagnostic
	not _nothing_to_diagnose
}

_nothing_to_diagnose if {
	system_areas[input.incident.area]
	object.get(input.incident, "device_id", "") == ""
}

_entered_user if {
	input.raiser.user
	input.raiser.entered
}

_diagnosed if {
	pol.diagnostics[input.diagnostic.tool]
	input.diagnostic.result != ""
}

# ---------------------------------------------------------------- statuses

transition_allowed if {
	some t in pol.transitions
	t.from == input.from
	t.to == input.to
}

# final_statuses are those no transition leaves (closed).
final_statuses := {s | some s in pol.statuses; not _leaves(s)}

_leaves(s) if {
	some t in pol.transitions
	t.from == s
}

# ---------------------------------------------------------- other steps

default step := {"allowed": true}

# Para 224: the DCC categorises and prioritises incidents: it corrects the
# category a user chose; a user does not.
step := {"allowed": false, "code": "NOT_PERMITTED", "clause": pol.categorisation_clause} if {
	input.action == "recategorise"
	not input.actor.dcc
}

# Para 225: a closed incident's record is complete: it takes no update and
# no new category (raise another incident, or the DCC reopens it while
# resolved).
else := {"allowed": false, "code": "TRANSITION_NOT_ALLOWED", "clause": pol.clause} if {
	input.action in {"update", "recategorise"}
	final_statuses[input.incident.status]
}

# Para 225, 244: what is written into the log is bounded.
else := _too_long_refusal if count(too_long) > 0

# too_long are the lengths given that exceed the spec's limits, by field.
too_long := [{"field": f, "length": n, "limit": pol.limits[f]} |
	some f in sort(object.keys(object.get(input, "lengths", {})))
	n := input.lengths[f]
	n > pol.limits[f]
]

_too_long_refusal := {"allowed": false, "code": "TOO_LONG", "clause": pol.limits.clause, "too_long": too_long}

# ---------------------------------------------------------- responsibility

responsibility := _with_interest(_responsible)

# Para 227: no one the policy can name (no supplier registered for the
# meter, the IHD's meter or the premises): the incident awaits the DCC's
# allocation, the DCC interested in it meanwhile.
responsibility := _with_interest({"party": "", "rule": "awaiting_dcc_allocation", "clause": pol.allocation_clause}) if not _responsible

# Para 228: the DCC closes incidents of the communications network, the data
# services outside the home, and the hub's remote maintenance and upgrades,
# unless resolving them needs a visit (para 229, last bullet).
_responsible := {"party": "dcc", "rule": "dcc_area", "clause": pol.areas[input.incident.area].clause} if {
	dcc_areas[input.incident.area]
	not input.incident.needs_visit
}

# Para 229-230: the supplier of the meter closes incidents of the meter.
_responsible := _supplier(_meter_supplier(input.device.type), "meter_supplier", pol.areas.smart_meter.clause) if {
	input.incident.area == "smart_meter"
}

# Para 229 (as per the licence): the supplier of the meter the IHD serves.
_responsible := _supplier(_meter_supplier(input.device.meter_type), "ihd_supplier", pol.areas.ihd.clause) if {
	input.incident.area == "ihd"
}

# Para 229-231: the premises HAN, anything needing a visit, and a DCC area
# that cannot be resolved remotely: the lead supplier of the shared
# communications equipment (the only supplier where it is not shared).
_responsible := _supplier(_lead.who, _lead.rule, "para 229-231") if {
	_visit_area
	not _meter_visit
}

# Para 229-231: a visit to a meter, equipment no other supplier shares, is
# its own supplier's (para 231's lead supplier is for shared equipment).
_responsible := _supplier(_meter_supplier(input.device.type), "meter_supplier", "para 229-231") if _meter_visit

_meter_visit if {
	input.incident.area == "visit"
	_meter_supplier(input.device.type)
}

_visit_area if input.incident.area in {"han", "visit"}

_visit_area if {
	dcc_areas[input.incident.area]
	input.incident.needs_visit
}

# An electricity meter's supplier is its import supplier; a gas meter's the
# gas supplier (the only one it has).
_meter_supplier(t) := input.suppliers.electricity_import if t == "ESME"

_meter_supplier(t) := input.suppliers.gas_import if t == "GSME"

_supplier(who, rule, clause) := {"party": "supplier", "user_id": who, "rule": rule, "clause": clause} if who != ""

# The suppliers sharing the equipment, distinct and registered.
_sharing := {s | some s in [input.suppliers.electricity_import, input.suppliers.gas_import, input.suppliers.electricity_export]; s != ""}

# Para 230: not shared: the one supplier whose meters it serves.
_lead := {"who": s, "rule": "sole_supplier"} if {
	count(_sharing) == 1
	some s in _sharing
}

# Para 231: shared: the electricity import supplier over a gas supplier ...
_lead := {"who": input.suppliers.electricity_import, "rule": "lead_electricity_import"} if {
	count(_sharing) > 1
	input.suppliers.electricity_import != ""
}

# ... and an import supplier over an export supplier.
_lead := {"who": input.suppliers.gas_import, "rule": "lead_gas_import"} if {
	count(_sharing) > 1
	input.suppliers.electricity_import == ""
	input.suppliers.gas_import != ""
}

# Interested parties (para 224, 227), other than the responsible party:
# the DCC, and in an incident of the shared equipment (the DCC's areas, the
# HAN, a visit) every supplier sharing it, who depends on it (para 232). A
# meter's or an IHD's incident is of one supplier's equipment: only the
# DCC is interested, and the other suppliers of the premises neither list
# nor read it (para 229-230, 250). The raiser, not responsible, sees its
# own incident as its raiser.
_with_interest(r) := object.union(r, {"interested": sort([p | some p in (_interested - {_who(r)})])})

# own_equipment_areas are the areas of equipment that is not shared.
own_equipment_areas := {"smart_meter", "ihd"}

_interested := {"dcc"} if _own_equipment

_interested := {"dcc"} | _sharing if not _own_equipment

_own_equipment if own_equipment_areas[input.incident.area]

_own_equipment if _meter_visit

_who(r) := r.user_id if r.party == "supplier"

_who(r) := "dcc" if r.party == "dcc"

_who(r) := "" if r.party == ""
