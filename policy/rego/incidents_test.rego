package dccgate.incidents_test

import data.dccgate.incidents

# A premises with an electricity import supplier E, an export supplier X and
# a gas supplier G sharing one Communications Hub.
all3 := {"electricity_import": "E", "electricity_export": "X", "gas_import": "G"}

alloc(area, visit, dev, suppliers) := r if {
	r := incidents.responsibility with input as {
		"incident": {"area": area, "needs_visit": visit},
		"device": dev,
		"suppliers": suppliers,
	}
}

chf := {"type": "CHF", "meter_type": ""}

# ------------------------------------------------ para 228: the DCC

test_smwan_is_dcc if {
	r := alloc("smwan", false, chf, all3)
	r.party == "dcc"
	r.clause == "para 228"
	r.interested == ["E", "G", "X"]
}

test_data_services_is_dcc if {
	alloc("data_services", false, {"type": "", "meter_type": ""}, all3).party == "dcc"
}

test_hub_remote_maintenance_is_dcc if {
	alloc("hub_remote_maintenance", false, chf, all3).party == "dcc"
}

test_hub_remote_upgrade_is_dcc if {
	alloc("hub_remote_upgrade", false, chf, all3).party == "dcc"
}

# ------------------------------------------------ para 229-230: the supplier

test_electricity_meter_is_its_import_supplier if {
	r := alloc("smart_meter", false, {"type": "ESME", "meter_type": ""}, all3)
	r.party == "supplier"
	r.user_id == "E"
	r.rule == "meter_supplier"
	r.interested == ["dcc"]
}

test_gas_meter_is_the_gas_supplier if {
	r := alloc("smart_meter", false, {"type": "GSME", "meter_type": ""}, all3)
	r.user_id == "G"
	r.clause == "para 229"
}

test_ihd_is_the_supplier_of_its_meter if {
	alloc("ihd", false, {"type": "IHD", "meter_type": "ESME"}, all3).user_id == "E"
	alloc("ihd", false, {"type": "IHD", "meter_type": "GSME"}, all3).user_id == "G"
}

test_han_not_shared_is_the_sole_supplier if {
	r := alloc("han", false, chf, {"electricity_import": "", "electricity_export": "", "gas_import": "G"})
	r.user_id == "G"
	r.rule == "sole_supplier"
}

test_visit_is_a_supplier if {
	r := alloc("visit", true, chf, {"electricity_import": "E", "electricity_export": "", "gas_import": ""})
	r.party == "supplier"
	r.user_id == "E"
}

# A hub fault that cannot be resolved remotely needs a visit: the supplier,
# not the DCC (para 229, last bullet), the gas proxy function included.
test_hub_needing_a_visit_is_the_supplier if {
	r := alloc("hub_remote_maintenance", true, chf, all3)
	r.party == "supplier"
	r.user_id == "E"
	alloc("smwan", true, {"type": "GPF", "meter_type": ""}, all3).user_id == "E"
}

# ------------------------------------------------ para 231: the lead supplier

test_shared_electricity_import_leads_over_gas if {
	r := alloc("visit", true, chf, {"electricity_import": "E", "electricity_export": "", "gas_import": "G"})
	r.user_id == "E"
	r.rule == "lead_electricity_import"
	r.interested == ["G", "dcc"]
}

test_shared_import_leads_over_export if {
	r := alloc("han", false, chf, {"electricity_import": "", "electricity_export": "X", "gas_import": "G"})
	r.user_id == "G"
	r.rule == "lead_gas_import"
	r2 := alloc("han", false, chf, {"electricity_import": "E", "electricity_export": "X", "gas_import": ""})
	r2.user_id == "E"
}

test_same_supplier_for_both_fuels_is_not_shared if {
	r := alloc("han", false, chf, {"electricity_import": "S", "electricity_export": "", "gas_import": "S"})
	r.rule == "sole_supplier"
	r.user_id == "S"
}

# Para 224, 227, 229-232, 250: a meter's or an IHD's incident is of one
# supplier's equipment: the DCC alone is interested, not the other
# suppliers of the premises; an incident of the shared equipment interests
# every supplier sharing it.
test_interested_parties_by_area if {
	gsme := {"type": "GSME", "meter_type": ""}
	cases := [
		# [note, area, visit, device, want responsible, want interested]
		["a gas meter: the gas supplier, the DCC interested", "smart_meter", false, gsme, "G", ["dcc"]],
		["an electricity meter needing a visit", "smart_meter", true, {"type": "ESME", "meter_type": ""}, "E", ["dcc"]],
		["an IHD of the gas meter", "ihd", false, {"type": "IHD", "meter_type": "GSME"}, "G", ["dcc"]],
		["the SMWAN: the sharing suppliers", "smwan", false, chf, "dcc", ["E", "G", "X"]],
		["the HAN: the others sharing it", "han", false, chf, "E", ["G", "X", "dcc"]],
		["a visit: the others sharing it", "visit", true, chf, "E", ["G", "X", "dcc"]],
		["a visit to the gas meter: its supplier's alone (para 229-231)", "visit", true, gsme, "G", ["dcc"]],
	]
	every c in cases {
		r := alloc(c[1], c[2], c[3], all3)
		_responsible(r) == c[4]
		r.interested == c[5]
	}
}

_responsible(r) := r.user_id if r.party == "supplier"

_responsible(r) := "dcc" if r.party == "dcc"

# Para 227: no supplier registered for the meter (or anyone at all): the
# incident awaits the DCC's allocation, the DCC interested meanwhile.
test_no_supplier_awaits_the_dcc if {
	none := {"electricity_import": "", "electricity_export": "", "gas_import": ""}
	cases := [
		["a gas meter with no gas supplier", "smart_meter", {"type": "GSME", "meter_type": ""}, {"electricity_import": "E", "electricity_export": "", "gas_import": ""}],
		["an IHD of no meter", "ihd", {"type": "IHD", "meter_type": ""}, all3],
		["the HAN of premises with no supplier", "han", chf, none],
	]
	every c in cases {
		r := alloc(c[1], false, c[2], c[3])
		r.party == ""
		r.rule == "awaiting_dcc_allocation"
		r.clause == "para 227"
		r.interested == ["dcc"]
		not r.user_id
	}
}

# ------------------------------------------------ raising (para 226-227, 254)

test_non_user_refused if {
	d := incidents.raise with input as {"raiser": {"user": false, "entered": false}, "diagnostic": {"tool": "chf_reachability", "result": "unreachable"}}
	not d.allowed
	d.code == "NOT_A_USER"
	d.clause == "para 254"
}

test_user_without_entry_refused if {
	d := incidents.raise with input as {"raiser": {"user": true, "entered": false}, "diagnostic": {"tool": "chf_reachability", "result": "unreachable"}}
	d.code == "NOT_A_USER"
}

test_no_diagnostic_refused if {
	d := incidents.raise with input as {"raiser": {"user": true, "entered": true}}
	not d.allowed
	d.code == "DIAGNOSTIC_REQUIRED"
	d2 := incidents.raise with input as {"raiser": {"user": true, "entered": true}, "diagnostic": {"tool": "guesswork", "result": "x"}}
	d2.code == "DIAGNOSTIC_REQUIRED"
}

test_user_with_diagnostic_allowed if {
	d := incidents.raise with input as {"raiser": {"user": true, "entered": true}, "diagnostic": {"tool": "chf_reachability", "result": "unreachable"}}
	d.allowed
}

entered := {"user": true, "entered": true}

diag(device) := {"tool": "chf_reachability", "result": "unreachable", "device_id": device}

esme := {"type": "ESME", "meter_type": ""}

raise_with(inc, extra) := r if {
	r := incidents.raise with input as object.union({"raiser": entered, "incident": inc, "device": esme}, extra)
}

# Para 226-227: a diagnostic is required where the remote diagnostic tools
# could diagnose something: an incident about a device, or in an area of
# devices; one about the DCC's own systems that names no device needs none.
test_diagnostic_only_where_one_is_possible if {
	cases := [
		# [note, incident, extra input, want code ("" allowed)]
		["data services, no device: none needed", {"area": "data_services", "device_id": ""}, {}, ""],
		["data services about a device: needed", {"area": "data_services", "device_id": "M1"}, {}, "DIAGNOSTIC_REQUIRED"],
		["data services about a device, diagnosed", {"area": "data_services", "device_id": "M1"}, {"diagnostic": diag("M1")}, ""],
		["a meter, no device named: needed", {"area": "smart_meter", "device_id": ""}, {}, "DIAGNOSTIC_REQUIRED"],
		["the SMWAN, no device named: needed", {"area": "smwan", "device_id": ""}, {}, "DIAGNOSTIC_REQUIRED"],
		["the HAN of a device: needed", {"area": "han", "device_id": "H1"}, {}, "DIAGNOSTIC_REQUIRED"],
		["a hub upgrade, diagnosed, the device taken from it", {"area": "hub_remote_upgrade", "device_id": ""}, {"diagnostic": diag("C1"), "device": chf}, ""],
		["data services naming a diagnostic that is not the caller's", {"area": "data_services", "device_id": ""}, {"diagnosis_named": true}, "DIAGNOSTIC_REQUIRED"],
	]
	every c in cases {
		_code(raise_with(c[1], c[2])) == c[3]
	}
}

# Para 226-227, 250: the diagnostic attached is of the incident's device,
# and a Service Request named is the caller's.
test_diagnostic_and_request_are_the_callers if {
	cases := [
		["a diagnostic of another device", {"area": "smart_meter", "device_id": "M2"}, {"diagnostic": diag("M1")}, "DIAGNOSTIC_NOT_OF_DEVICE"],
		["a diagnostic of the device", {"area": "smart_meter", "device_id": "M1"}, {"diagnostic": diag("M1")}, ""],
		["another user's request", {"area": "smart_meter", "device_id": "M1"}, {"diagnostic": diag("M1"), "request": {"given": true, "own": false}}, "NOT_VISIBLE"],
		["the caller's request", {"area": "smart_meter", "device_id": "M1"}, {"diagnostic": diag("M1"), "request": {"given": true, "own": true}}, ""],
		["another user's request, data services", {"area": "data_services", "device_id": ""}, {"request": {"given": true, "own": false}}, "NOT_VISIBLE"],
	]
	every c in cases {
		_code(raise_with(c[1], c[2])) == c[3]
	}
	r := raise_with({"area": "smart_meter", "device_id": "M2"}, {"diagnostic": diag("M1")})
	r.clause == "para 226-227"
	v := raise_with({"area": "data_services", "device_id": ""}, {"request": {"given": true, "own": false}})
	v.clause == "para 250"
}

# Para 228-229: an area about one kind of device is raised about a device
# of that kind, else no one would be responsible for it.
test_area_of_the_device if {
	ihd := {"type": "IHD", "meter_type": "ESME"}
	none := {"type": "", "meter_type": ""}
	cases := [
		# [note, area, device, want code]
		["a meter's incident about a meter", "smart_meter", esme, ""],
		["a meter's incident about a gas meter", "smart_meter", {"type": "GSME", "meter_type": ""}, ""],
		["a meter's incident about a hub", "smart_meter", chf, "AREA_NOT_OF_DEVICE"],
		["a meter's incident about an IHD", "smart_meter", ihd, "AREA_NOT_OF_DEVICE"],
		["a meter's incident about a device not on the inventory", "smart_meter", none, "AREA_NOT_OF_DEVICE"],
		["an IHD's incident about an IHD", "ihd", ihd, ""],
		["an IHD's incident about a meter", "ihd", esme, "AREA_NOT_OF_DEVICE"],
		["a hub upgrade about the hub", "hub_remote_upgrade", chf, ""],
		["a hub upgrade about the gas proxy", "hub_remote_upgrade", {"type": "GPF", "meter_type": ""}, ""],
		["a hub's maintenance about a meter", "hub_remote_maintenance", esme, "AREA_NOT_OF_DEVICE"],
		["the SMWAN about a meter", "smwan", esme, ""],
		["the HAN about an IHD", "han", ihd, ""],
		["a visit about a meter", "visit", esme, ""],
	]
	every c in cases {
		_code(raise_with({"area": c[1], "device_id": "D1"}, {"diagnostic": diag("D1"), "device": c[2]})) == c[3]
	}
	r := raise_with({"area": "smart_meter", "device_id": "D1"}, {"diagnostic": diag("D1"), "device": chf})
	r.clause == "para 229"
	r.types == ["ESME", "GSME"]
	h := raise_with({"area": "hub_remote_upgrade", "device_id": "D1"}, {"diagnostic": diag("D1")})
	h.clause == "para 228"
	h.types == ["CHF", "GPF"]
}

# Para 225, 244: a title or a description longer than the spec's limits is
# refused, naming each field too long.
test_raise_too_long if {
	lim := data.spec.service_management.incidents.limits
	ok := raise_with({"area": "smart_meter", "device_id": "D1"}, {"diagnostic": diag("D1"), "lengths": {"title": lim.title, "description": lim.description}})
	ok.allowed
	r := raise_with({"area": "smart_meter", "device_id": "D1"}, {"diagnostic": diag("D1"), "lengths": {"title": lim.title + 1, "description": lim.description + 1}})
	r.code == "TOO_LONG"
	r.clause == lim.clause
	r.too_long == [
		{"field": "description", "length": lim.description + 1, "limit": lim.description},
		{"field": "title", "length": lim.title + 1, "limit": lim.title},
	]
}

_code(d) := "" if d.allowed

_code(d) := d.code if not d.allowed

# ------------------------------------------------ statuses

test_transitions if {
	incidents.transition_allowed with input as {"from": "open", "to": "allocated"}
	incidents.transition_allowed with input as {"from": "resolved", "to": "closed"}
	not incidents.transition_allowed with input as {"from": "closed", "to": "open"}
	not incidents.transition_allowed with input as {"from": "open", "to": "closed"}
}

test_closed_is_final if {
	incidents.final_statuses == {"closed"}
}

step(action, dcc, status, lengths) := d if {
	d := incidents.step with input as {
		"action": action,
		"actor": {"dcc": dcc},
		"incident": {"status": status},
		"lengths": lengths,
	}
}

# Para 224, 225, 244: the DCC alone recategorises; a closed incident takes
# no update and no new category; notes are bounded.
test_steps if {
	lim := data.spec.service_management.incidents.limits
	cases := [
		# [note, action, by the DCC, status, lengths, want code]
		["a user updates an allocated incident", "update", false, "allocated", {"note": 10}, ""],
		["a user updates a resolved incident", "update", false, "resolved", {"note": 10}, ""],
		["a user updates a closed incident", "update", false, "closed", {"note": 10}, "TRANSITION_NOT_ALLOWED"],
		["the DCC updates a closed incident", "update", true, "closed", {"note": 10}, "TRANSITION_NOT_ALLOWED"],
		["a note too long", "update", false, "allocated", {"note": lim.note + 1}, "TOO_LONG"],
		["diagnostic data too long", "update", false, "allocated", {"note": 0, "data_bytes": lim.data_bytes + 1}, "TOO_LONG"],
		["the DCC recategorises", "recategorise", true, "allocated", {"note": 0}, ""],
		["the DCC recategorises a resolved incident", "recategorise", true, "resolved", {"note": 0}, ""],
		["a user recategorises", "recategorise", false, "allocated", {"note": 0}, "NOT_PERMITTED"],
		["the DCC recategorises a closed incident", "recategorise", true, "closed", {"note": 0}, "TRANSITION_NOT_ALLOWED"],
		["a resolution's note too long", "resolve", false, "allocated", {"note": lim.note + 1}, "TOO_LONG"],
		["a review of a closed incident", "review", false, "closed", {"note": 10}, ""],
	]
	every c in cases {
		_code(step(c[1], c[2], c[3], c[4])) == c[5]
	}
	step("recategorise", false, "open", {}).clause == "para 224"
	step("update", false, "closed", {}).clause == "para 217-237"
	step("update", false, "open", {"note": lim.note + 1}).clause == lim.clause
}
