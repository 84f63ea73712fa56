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
# and which supplier it is, the interested parties and the clause.
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

# ---------------------------------------------------------- responsibility

# Para 228: the DCC closes incidents of the communications network, the data
# services outside the home, and the hub's remote maintenance and upgrades,
# unless resolving them needs a visit (para 229, last bullet).
responsibility := _with_interest({"party": "dcc", "rule": "dcc_area", "clause": pol.areas[input.incident.area].clause}) if {
	dcc_areas[input.incident.area]
	not input.incident.needs_visit
}

# Para 229-230: the supplier of the meter closes incidents of the meter.
responsibility := _with_interest(_supplier(_meter_supplier(input.device.type), "meter_supplier", pol.areas.smart_meter.clause)) if {
	input.incident.area == "smart_meter"
}

# Para 229 (as per the licence): the supplier of the meter the IHD serves.
responsibility := _with_interest(_supplier(_meter_supplier(input.device.meter_type), "ihd_supplier", pol.areas.ihd.clause)) if {
	input.incident.area == "ihd"
}

# Para 229-231: the premises HAN, anything needing a visit, and a DCC area
# that cannot be resolved remotely: the lead supplier of the shared
# communications equipment (the only supplier where it is not shared).
responsibility := _with_interest(_supplier(_lead.who, _lead.rule, "para 229-231")) if {
	_visit_area
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

# Interested parties (para 227): the DCC and every supplier sharing the
# equipment, other than the responsible party.
_with_interest(r) := object.union(r, {"interested": sort([p | some p in ({"dcc"} | _sharing) - {_who(r)}])})

_who(r) := r.user_id if r.party == "supplier"

_who(r) := "dcc" if r.party == "dcc"
