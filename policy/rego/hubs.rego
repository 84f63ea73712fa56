# Who pays for Communications Hubs (chapter 7, para 309-356): the party each
# kind of charge falls on, and the fault responsibility of a removal and what
# follows from it. Numbers come from data.spec.hubs; the hubs package
# executes what this decides.
#
# `charge_rules` depends on the spec alone and is evaluated once. `removal`
# decides one removal record:
#
#   input.removal: {reason, removing_supplier, date ("2006-01-02"),
#                   replacement_variant, csp_requested, refresh_programme}
#   input.hub:     {id, variant, receiving_supplier, installing_supplier,
#                   installed_on, premises ("domestic" | "non_domestic")}
#
# Parties a rule may name: "receiving_supplier" (took delivery of the hub),
# "installing_supplier", "removing_supplier", "affected_suppliers" (those
# whose faults a compensation is for), "csp" (borne by the CSP, invoiced to
# no user) and "smear" (shared by market share of a basis). Bases:
# "enrolled", "enrolled_non_domestic", "commissioned_chf", "fault_rate",
# "fault_count", "finance_charges", "service_charges".
package dccgate.hubs

hubs := data.spec.hubs

# ---------------------------------------------------------------- charges

charge_rules[kind] := object.union(rule, {"kind": kind, "clause": hubs.charge_kinds[kind].clause}) if {
	some kind, rule in _charge_rules
}

_charge_rules := {
	# Para 315: until installed, the supplier in receipt of the hub pays.
	"asset_not_installed": {"party": "receiving_supplier"},
	# Para 318-319: after installation, smeared by enrolled market share.
	"asset_installed": {"party": "smear", "basis": "enrolled"},
	# Para 321-322, 326: the installing supplier pays the differential on
	# receipt, with no split-fuel rebate.
	"han_differential": {"party": "receiving_supplier"},
	# Para 330.
	"maintenance": {"party": "smear", "basis": "enrolled"},
	# Para 350: allocated across affected suppliers by aggregate fault rate.
	"type_fault_compensation": {"party": "affected_suppliers", "basis": "fault_rate"},
	# Para 356: to the supplier whose order failed.
	"batch_fault_compensation": {"party": "receiving_supplier"},
	# Para 303: users fund the float; we share it as they share the
	# finance charges of the month.
	"float_top_up": {"party": "smear", "basis": "finance_charges"},
	# K9.7, para 369: bad debt is socialised across the other users, in
	# proportion to their own charges on the invoice that went unpaid.
	"bad_debt": {"party": "smear", "basis": "finance_charges"},
	"service_bad_debt": {"party": "smear", "basis": "service_charges"},
}

# ---------------------------------------------------------------- removals

reason := input.removal.reason

known_reason if hubs.removal_reasons[reason]

installed if object.get(input.hub, "installed_on", "") != ""

dual_band(variant) if hubs.han_variants[variant].dual_band

# unmet: why the record does not meet the conditions of the reason it gives.
# A reason whose conditions are unmet is a no-fault removal (para 333).
unmet contains "the CSP did not request the replacement (para 337)" if {
	reason == "smwan_coverage"
	not input.removal.csp_requested
}

unmet contains "the premises is not non-domestic (para 341)" if {
	reason == "non_domestic_opt_out"
	object.get(input.hub, "premises", "") != "non_domestic"
}

unmet contains "the removing Supplier installed the hub: only a second Supplier's replacement is excepted (para 344)" if {
	reason == "split_fuel_replacement"
	input.removal.removing_supplier == object.get(input.hub, "installing_supplier", "")
}

unmet contains "the replacement is not a dual band hub (para 344, 346)" if {
	reason == "split_fuel_replacement"
	not dual_band(object.get(input.removal, "replacement_variant", ""))
}

unmet contains "the removed hub is dual band and serves both meters (para 346)" if {
	reason == "split_fuel_replacement"
	dual_band(input.hub.variant)
}

unmet contains "the hub was never installed (para 343-346)" if {
	reason == "split_fuel_replacement"
	not installed
}

unmet contains "no DCC-approved refresh programme is named (para 347)" if {
	reason == "technology_refresh"
	object.get(input.removal, "refresh_programme", "") == ""
}

# category: the case of the source the removal falls in.
category := "unknown" if {
	not known_reason
} else := "no_fault_found" if {
	count(unmet) > 0
} else := reason

# outcomes: per category, responsibility and who bears the remaining asset
# cost (recovery_bp of it is recovered; the CSP writes off the rest).
outcomes := {
	# Para 334: the CSP replaces free of charge; users pay nothing more
	# for the faulty hub.
	"fails_specification": {
		"responsibility": "dcc_service_fault",
		"remaining": {"party": "csp", "recovery_bp": 0},
		"site_visit": "removing_supplier",
		"clause": "para 334",
	},
	# Para 335-337: fault responsibility is the DCC's and the type fault
	# arrangements apply.
	"smwan_coverage": {
		"responsibility": "dcc_service_fault",
		"remaining": {"party": "csp", "recovery_bp": 0},
		"site_visit": "removing_supplier",
		"clause": "para 335-337",
	},
	# Para 333, 338-339: the removing supplier pays the remaining asset
	# cost.
	"physical_damage": _user_fault("para 333, 339"),
	"support_materials": _user_fault("para 333, 339"),
	"lost_or_stolen": _user_fault("para 333, 339"),
	# Para 333: the CSP recovers only recovery_bp of it on a no-fault
	# removal.
	"no_fault_found": {
		"responsibility": "dcc_user_fault",
		"remaining": {"party": "removing_supplier", "kind": "remaining_asset", "recovery_bp": hubs.no_fault.recovery_bp},
		"site_visit": "removing_supplier",
		"clause": "para 333, 339",
	},
	# Para 340-342: a no-fault removal, smeared across the non-domestic
	# sector enrolled in the DCC.
	"non_domestic_opt_out": {
		"responsibility": "dcc_user_fault",
		"remaining": {"party": "smear", "basis": "enrolled_non_domestic", "kind": "remaining_asset_non_domestic", "recovery_bp": hubs.no_fault.recovery_bp},
		"site_visit": "removing_supplier",
		"clause": "para 340-342",
	},
	# Para 343-346: smeared by market share of commissioned CHFs.
	"split_fuel_replacement": {
		"responsibility": "dcc_user_fault",
		"remaining": {"party": "smear", "basis": "commissioned_chf", "kind": "remaining_asset_split_fuel", "recovery_bp": hubs.no_fault.recovery_bp},
		"site_visit": "removing_supplier",
		"clause": "para 340, 343-346",
	},
	# Para 347 puts the site visits on the CSP. It is silent on the
	# remaining asset cost; we read the CSP's cost benefit appraisal as
	# covering it, so no user pays it.
	"technology_refresh": {
		"responsibility": "dcc_user_fault",
		"remaining": {"party": "csp", "recovery_bp": 0},
		"site_visit": "csp",
		"clause": "para 340, 347",
	},
}

_user_fault(clause) := {
	"responsibility": "dcc_user_fault",
	"remaining": {"party": "removing_supplier", "kind": "remaining_asset", "recovery_bp": 10000},
	"site_visit": "removing_supplier",
	"clause": clause,
}

# type_fault: the removal counts towards the annual type fault threshold,
# which is over installed hubs (para 349, 354, 337).
default type_fault := false

type_fault if {
	outcomes[category].responsibility == "dcc_service_fault"
	installed
}

# batch_fault: a hub of the order failed its specification within the
# window after its installation (para 356). A coverage replacement is not a
# failure of the batch.
default batch_fault := false

batch_fault if {
	category == "fails_specification"
	installed
	inst := time.parse_ns("2006-01-02", input.hub.installed_on)
	removed := time.parse_ns("2006-01-02", input.removal.date)
	removed < time.add_date(inst, 0, hubs.batch_fault.window_months, 0)
}

detail := sprintf("%s claimed, but %s: a no-fault removal", [reason, concat("; ", sort(unmet))]) if {
	category == "no_fault_found"
	count(unmet) > 0
} else := hubs.removal_reasons[reason].label if {
	known_reason
}

removal := {"error": sprintf("unknown removal reason %q", [reason])} if {
	category == "unknown"
} else := object.union(outcomes[category], {
	"category": category,
	"claimed": hubs.removal_reasons[reason].claimed,
	"type_fault": type_fault,
	"batch_fault": batch_fault,
	"detail": detail,
})
