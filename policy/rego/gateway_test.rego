package dccgate.gateway_test

import data.dccgate.gateway

# A base input that passes every check: the registered import supplier reads
# the registers of a commissioned electricity meter.
base := {
	"request": {
		"service": "4.1", "variant": "", "category": "on_demand", "delivery": "wan",
		"user_id": "00-00-00-00-00-00-0A-01", "device_id": "00-DB-00-00-00-00-E0-01",
	},
	"facts": {
		"now": "2026-01-05T09:00:00Z",
		"user": {"known": true, "role": "EIS", "suspended": false},
		"device": {"known": true, "type": "ESME", "status": "commissioned"},
		"registration": [{"mpxn": "1900000000011", "fuel": "electricity", "import_supplier": "00-00-00-00-00-00-0A-01", "network_operator": "00-00-00-00-00-00-06-01"}],
	},
}

with_request(patch) := object.union(base, {"request": object.union(base.request, patch)})

with_facts(patch) := object.union(base, {"facts": object.union(base.facts, patch)})

code_of(inp) := c if {
	c := gateway.decision.code with input as inp
}

test_registered_supplier_accepted if {
	gateway.decision.outcome == "accepted" with input as base
}

test_unknown_service_malformed if code_of(with_request({"service": "4.99"})) == "MALFORMED"

test_alert_row_malformed if code_of(with_request({"service": "A1"})) == "MALFORMED"

test_field_errors_malformed if code_of(with_facts({"field_errors": ["register: must be one of total, tou, block"]})) == "MALFORMED"

test_on_demand_na if code_of(with_request({"service": "1.2", "variant": "credit"})) == "CATEGORY_NOT_AVAILABLE"

test_future_dated_na if code_of(with_request({"category": "future_dated", "execute_at": "2026-01-06T09:00:00Z"})) == "CATEGORY_NOT_AVAILABLE"

test_future_dated_in_past_malformed if code_of(with_request({"service": "4.4", "category": "future_dated", "execute_at": "2026-01-04T09:00:00Z"})) == "MALFORMED"

test_future_dated_ok if {
	gateway.decision.outcome == "accepted" with input as with_request({"service": "4.4", "category": "future_dated", "execute_at": "2026-01-06T09:00:00Z"})
}

test_schedule_needs_note_404 if code_of(with_request({"service": "5.1", "schedule": {"service": "4.1"}})) == "CATEGORY_NOT_AVAILABLE"

test_schedule_note_404_ok if {
	gateway.decision.outcome == "accepted" with input as with_request({"service": "5.1", "schedule": {"service": "4.8"}})
}

test_schedule_role_of_inner_service if {
	# SNA is not eligible for 5.1 at all; OU is eligible for 5.1 but not 4.10.
	inp := object.union(with_request({"service": "5.1", "schedule": {"service": "4.10"}}), {"facts": object.union(base.facts, {"user": {"known": true, "role": "OU"}})})
	code_of(inp) == "ROLE_NOT_ELIGIBLE"
}

test_unknown_user if code_of(with_facts({"user": {"known": false, "role": ""}})) == "UNKNOWN_USER"

test_suspended if code_of(with_facts({"user": {"known": true, "role": "EIS", "suspended": true}})) == "USER_SUSPENDED"

test_role_not_eligible if code_of(object.union(with_request({"service": "1.1", "variant": "credit"}), {"facts": object.union(base.facts, {"user": {"known": true, "role": "GNO"}})})) == "ROLE_NOT_ELIGIBLE"

test_device_unknown if code_of(with_facts({"device": {"known": false}})) == "DEVICE_UNKNOWN"

test_type2 if code_of(with_facts({"device": {"known": true, "type": "IHD", "status": "commissioned"}})) == "TYPE2_NOT_SUPPORTED"

test_type2_join_allowed if {
	inp := object.union(with_request({"service": "8.7", "variant": "type2"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "IHD", "status": "commissioned"}})})
	gateway.decision.outcome == "accepted" with input as inp
}

# Note 405: no service but 8.7, 8.8 (Type 2) and 8.11 for a Type 2 Device,
# Table 5.2's activities (8.3, 8.4) included.
test_type2_update_inventory_refused if {
	ihd := {"device": {"known": true, "type": "IHD", "status": "installed_not_commissioned"}}
	inp := object.union(with_request({"service": "8.4", "user_id": "00-00-00-00-00-00-0F-01", "body": {"status": "pending"}}), {"facts": object.union(base.facts, object.union(ihd, {"user": {"known": true, "role": "OU", "suspended": false}}))})
	code_of(inp) == "TYPE2_NOT_SUPPORTED"
}

test_type2_decommission_refused if {
	ihd := {"device": {"known": true, "type": "IHD", "status": "commissioned"}}
	code_of(object.union(with_request({"service": "8.3"}), {"facts": object.union(base.facts, ihd)})) == "TYPE2_NOT_SUPPORTED"
}

# 8.2 by Device ID is aimed at the device; by MPxN it is not.
test_type2_read_inventory_by_device_refused if {
	ihd := {"device": {"known": true, "type": "IHD", "status": "commissioned"}}
	code_of(object.union(with_request({"service": "8.2"}), {"facts": object.union(base.facts, ihd)})) == "TYPE2_NOT_SUPPORTED"
}

test_read_inventory_by_meter_allowed if {
	inp := object.union(with_request({"service": "8.2"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "ESME", "status": "commissioned"}})})
	not code_of(inp) == "TYPE2_NOT_SUPPORTED"
}

test_device_type if code_of(with_facts({"device": {"known": true, "type": "CHF", "status": "commissioned"}})) == "DEVICE_TYPE"

test_device_status if code_of(with_facts({"device": {"known": true, "type": "ESME", "status": "pending"}})) == "DEVICE_STATUS"

test_local_delivery_note_406 if {
	pending := {"device": {"known": true, "type": "ESME", "status": "pending"}}
	# A supplier may have a Command for Local Delivery to a pending device...
	gateway.decision.outcome == "accepted" with input as object.union(with_request({"delivery": "local"}), {"facts": object.union(base.facts, pending)})
	# ...a network operator may not.
	no := object.union(with_request({"delivery": "local"}), {"facts": object.union(base.facts, object.union(pending, {"user": {"known": true, "role": "ENO"}}))})
	code_of(no) == "DEVICE_STATUS"
}

test_local_delivery_not_for_activities if code_of(with_request({"service": "8.2", "delivery": "local"})) == "CATEGORY_NOT_AVAILABLE"

test_not_registered if code_of(with_request({"user_id": "00-00-00-00-00-00-0B-01"})) == "NOT_REGISTERED"

test_network_operator_of_other_fuel if {
	inp := object.union(with_request({"user_id": "00-00-00-00-00-00-06-01"}), {"facts": object.union(base.facts, {"user": {"known": true, "role": "GNO"}})})
	code_of(inp) == "NOT_REGISTERED"
}

test_critical_skips_registration if {
	inp := with_request({"service": "7.1", "user_id": "00-00-00-00-00-00-0B-01"})
	gateway.decision.outcome == "accepted" with input as inp
}

test_cos_checks_registration if code_of(with_request({"service": "6.23", "user_id": "00-00-00-00-00-00-0B-01"})) == "NOT_REGISTERED"

test_commission_chf_not_commissioned if {
	inp := object.union(with_request({"service": "8.1"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "ESME", "status": "installed_not_commissioned", "chf_status": "pending"}})})
	code_of(inp) == "CHF_NOT_COMMISSIONED"
}

test_commission_mpxn_has_meter if {
	inp := object.union(with_request({"service": "8.1"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "ESME", "status": "pending", "chf_status": "commissioned", "mpxn_has_meter": true}})})
	code_of(inp) == "MPXN_HAS_METER"
}

test_commission_meter_first if {
	inp := object.union(with_request({"service": "8.1"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "PPMID", "status": "pending", "chf_status": "commissioned", "meter_status": "pending"}})})
	code_of(inp) == "METER_NOT_COMMISSIONED"
}

test_commission_status if {
	inp := object.union(with_request({"service": "8.1"}), {"facts": object.union(base.facts, {"device": {"known": true, "type": "ESME", "status": "commissioned", "chf_status": "commissioned"}})})
	code_of(inp) == "DEVICE_STATUS"
}

# 8.11 Update HAN Device Log: the hub's records name the electricity
# supplier; the gas supplier's meter, pre-notified on no hub, has its own.
han_log(user, role, body, listed) := {
	"request": object.union(base.request, {"service": "8.11", "user_id": user, "device_id": "00-DB-00-00-00-00-C0-01", "body": body}),
	"facts": object.union(base.facts, {
		"user": {"known": true, "role": role}, "device": {"known": true, "type": "CHF", "status": "commissioned"}, "listed": listed,
		"registration": [object.union(base.facts.registration[0], {"postcode": "LS1 1AA", "premises": "7"})],
	}),
}

gas_meter := {"00-DB-00-00-00-00-6A-01": {"type": "GSME", "status": "pending", "registration": [{"mpxn": "7000000011", "fuel": "gas", "import_supplier": "00-00-00-00-00-00-0A-03", "postcode": "LS1 1AA", "premises": "7"}]}}

# Para 182-184, 187: a device added to a hub's Device Log must be on the
# inventory; one removed need not be.
test_device_log_add_unknown if {
	code_of(han_log("00-00-00-00-00-00-0A-01", "EIS", {"add": ["00-DB-00-00-00-00-E0-99"], "remove": []}, {})) == "DEVICE_UNKNOWN"
}

test_device_log_remove_unknown if {
	gateway.decision.outcome == "accepted" with input as han_log("00-00-00-00-00-00-0A-01", "EIS", {"add": [], "remove": ["00-DB-00-00-00-00-E0-99"]}, {})
}

# Para 184 at premises of two fuels: the gas supplier adds its own meter to
# the electricity supplier's hub; not with a device it is not named for.
test_device_log_other_fuel_own_meter if {
	gateway.decision.outcome == "accepted" with input as han_log("00-00-00-00-00-00-0A-03", "GIS", {"add": ["00-DB-00-00-00-00-6A-01"], "remove": []}, gas_meter)
}

test_device_log_other_fuel_removes_hub_meter if {
	elec := {"00-DB-00-00-00-00-E0-01": {"type": "ESME", "status": "commissioned", "registration": base.facts.registration}}
	code_of(han_log("00-00-00-00-00-00-0A-03", "GIS", {"add": ["00-DB-00-00-00-00-6A-01"], "remove": ["00-DB-00-00-00-00-E0-01"]}, object.union(gas_meter, elec))) == "NOT_REGISTERED"
}

# Its meter of other premises: not for this hub.
test_device_log_other_fuel_other_premises if {
	elsewhere := json.patch(gas_meter, [{"op": "replace", "path": "/00-DB-00-00-00-00-6A-01/registration/0/premises", "value": "9"}])
	code_of(han_log("00-00-00-00-00-00-0A-03", "GIS", {"add": ["00-DB-00-00-00-00-6A-01"], "remove": []}, elsewhere)) == "NOT_REGISTERED"
}

test_device_log_supplier_of_neither if {
	code_of(han_log("00-00-00-00-00-00-0B-03", "GIS", {"add": ["00-DB-00-00-00-00-6A-01"], "remove": []}, gas_meter)) == "NOT_REGISTERED"
}

# A meter on no hub's Device Log is on no HAN the DCC reaches (para 168);
# a Command for Local Delivery is not sent over the SMWAN.
test_no_hub if {
	no_hub := {"device": {"known": true, "type": "ESME", "status": "commissioned", "no_hub": true}}
	code_of(with_facts(no_hub)) == "DEVICE_STATUS"
	gateway.decision.outcome == "accepted" with input as object.union(with_request({"delivery": "local"}), {"facts": object.union(base.facts, no_hub)})
}

test_certificate if code_of(with_facts({"credentials": {"certificate_valid": false}})) == "CERTIFICATE_INVALID"

test_anomaly_quarantines if {
	d := gateway.decision with input as with_facts({"anomaly": {"count": 4, "max": 3}})
	d.code == "ANOMALY"
	d.outcome == "quarantined"
}

test_anomaly_at_threshold_passes if {
	gateway.decision.outcome == "accepted" with input as with_facts({"anomaly": {"count": 3, "max": 3}})
}

# The first failing check wins: an ineligible role on an unknown device.
test_order_role_before_device if {
	inp := object.union(with_request({"service": "1.1", "variant": "credit"}), {"facts": object.union(base.facts, {"user": {"known": true, "role": "GNO"}, "device": {"known": false}})})
	code_of(inp) == "ROLE_NOT_ELIGIBLE"
}

test_clause_names_row if {
	d := gateway.decision with input as with_request({"service": "1.2", "variant": "credit"})
	contains(d.clause, "Annex 5")
	contains(d.clause, "1.2/credit")
}

# No role or service list is typed into the policy: everything comes from
# data.spec, so an edited spec changes the decision.
test_decision_follows_spec_edit if {
	edited := json.patch(data.spec, [{"op": "replace", "path": "/services/16/roles", "value": ["GIS"]}])
	d := gateway.decision with input as base with data.spec as edited
	d.code == "ROLE_NOT_ELIGIBLE"
}

# Held behind a request that changes the inventory (para 126-127), the
# device's state is checked on release; behind any other, at once.
test_held_behind_inventory_change_defers_status if {
	gateway.decision.outcome == "accepted" with input as with_facts({
		"device": {"known": true, "type": "ESME", "status": "installed_not_commissioned"},
		"held_behind": "8.1",
	})
}

test_held_behind_other_checks_status if code_of(with_facts({
	"device": {"known": true, "type": "ESME", "status": "installed_not_commissioned"},
	"held_behind": "1.6",
})) == "DEVICE_STATUS"
