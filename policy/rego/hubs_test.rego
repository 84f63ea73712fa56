package dccgate.hubs_test

import data.dccgate.hubs

# A hub Supplier A received and installed (2.4 GHz, domestic premises).
hub := {
	"id": "H1", "variant": "single_band",
	"receiving_supplier": "A", "installing_supplier": "A",
	"installed_on": "2026-01-20", "premises": "domestic",
}

removal(reason) := {"reason": reason, "removing_supplier": "A", "date": "2026-06-01"}

decide(r, h) := d if {
	d := hubs.removal with input as {"removal": r, "hub": h}
}

# ------------------------------------------------ DCC Service Faults

test_fails_specification if {
	d := decide(removal("fails_specification"), hub)
	d.responsibility == "dcc_service_fault"
	d.category == "fails_specification"
	d.remaining.party == "csp"
	d.remaining.recovery_bp == 0
	d.type_fault
	d.batch_fault
	d.clause == "para 334"
}

test_fails_specification_after_the_batch_window_is_type_fault_only if {
	d := decide(object.union(removal("fails_specification"), {"date": "2027-01-20"}), hub)
	d.type_fault
	not d.batch_fault
}

test_fails_specification_last_day_of_window_is_batch if {
	d := decide(object.union(removal("fails_specification"), {"date": "2027-01-19"}), hub)
	d.batch_fault
}

test_dead_before_installation_counts_for_neither_threshold if {
	d := decide(removal("fails_specification"), object.remove(hub, ["installed_on"]))
	d.responsibility == "dcc_service_fault"
	not d.type_fault
	not d.batch_fault
}

test_coverage_replacement_requested_by_csp if {
	d := decide(object.union(removal("smwan_coverage"), {"csp_requested": true}), hub)
	d.responsibility == "dcc_service_fault"
	d.category == "smwan_coverage"
	d.type_fault
	not d.batch_fault
	d.remaining.party == "csp"
}

test_coverage_replacement_not_requested_is_no_fault if {
	d := decide(removal("smwan_coverage"), hub)
	d.category == "no_fault_found"
	d.responsibility == "dcc_user_fault"
	d.remaining.party == "removing_supplier"
	d.remaining.recovery_bp == data.spec.hubs.no_fault.recovery_bp
	not d.type_fault
	contains(d.detail, "the CSP did not request")
}

# ------------------------------------------------ DCC User Faults

test_user_faults_pay_the_whole_remaining_cost if {
	every r in ["physical_damage", "support_materials", "lost_or_stolen"] {
		d := decide(removal(r), hub)
		d.responsibility == "dcc_user_fault"
		d.category == r
		d.remaining.party == "removing_supplier"
		d.remaining.kind == "remaining_asset"
		d.remaining.recovery_bp == 10000
		not d.type_fault
		not d.batch_fault
	}
}

test_lost_from_stock_before_installation if {
	d := decide(removal("lost_or_stolen"), object.remove(hub, ["installed_on"]))
	d.remaining.party == "removing_supplier"
}

test_no_fault_found_recovers_80_percent if {
	d := decide(removal("no_fault_found"), hub)
	d.responsibility == "dcc_user_fault"
	d.claimed == "no_fault"
	d.remaining.recovery_bp == 8000
	d.remaining.party == "removing_supplier"
}

# ------------------------------------------------ the exceptions (para 340-347)

test_non_domestic_opt_out_smeared_on_non_domestic_sector if {
	d := decide(removal("non_domestic_opt_out"), object.union(hub, {"premises": "non_domestic"}))
	d.category == "non_domestic_opt_out"
	d.remaining.party == "smear"
	d.remaining.basis == "enrolled_non_domestic"
	d.remaining.kind == "remaining_asset_non_domestic"
	d.remaining.recovery_bp == 8000
}

test_opt_out_of_domestic_premises_is_no_fault if {
	d := decide(removal("non_domestic_opt_out"), hub)
	d.category == "no_fault_found"
	contains(d.detail, "not non-domestic")
}

split_fuel := {"reason": "split_fuel_replacement", "removing_supplier": "B", "date": "2026-06-01", "replacement_variant": "dual_band"}

test_split_fuel_second_supplier_dual_band if {
	d := decide(split_fuel, hub)
	d.category == "split_fuel_replacement"
	d.remaining.party == "smear"
	d.remaining.basis == "commissioned_chf"
	d.remaining.kind == "remaining_asset_split_fuel"
	d.remaining.recovery_bp == 8000
	not d.type_fault
}

test_split_fuel_by_the_installer_is_no_fault if {
	d := decide(object.union(split_fuel, {"removing_supplier": "A"}), hub)
	d.category == "no_fault_found"
	d.remaining.party == "removing_supplier"
	contains(d.detail, "removing Supplier installed")
}

test_split_fuel_replacement_not_dual_band_is_no_fault if {
	d := decide(object.union(split_fuel, {"replacement_variant": "other"}), hub)
	d.category == "no_fault_found"
	contains(d.detail, "not a dual band")
}

test_split_fuel_removing_a_dual_band_hub_is_no_fault if {
	d := decide(split_fuel, object.union(hub, {"variant": "dual_band"}))
	d.category == "no_fault_found"
}

test_technology_refresh_site_visits_to_csp if {
	d := decide(object.union(removal("technology_refresh"), {"refresh_programme": "R2027"}), hub)
	d.category == "technology_refresh"
	d.site_visit == "csp"
	d.remaining.party == "csp"
	not d.type_fault
}

test_technology_refresh_without_programme_is_no_fault if {
	d := decide(removal("technology_refresh"), hub)
	d.category == "no_fault_found"
	d.site_visit == "removing_supplier"
}

test_unknown_reason if {
	d := decide(removal("gremlins"), hub)
	contains(d.error, "gremlins")
}

# ------------------------------------------------ charge rules

test_charge_rules if {
	r := hubs.charge_rules
	r.asset_not_installed.party == "receiving_supplier"
	r.asset_installed.party == "smear"
	r.asset_installed.basis == "enrolled"
	r.maintenance.basis == "enrolled"
	r.han_differential.party == "receiving_supplier"
	r.type_fault_compensation.basis == "fault_rate"
	r.batch_fault_compensation.party == "receiving_supplier"
	r.asset_installed.clause == data.spec.hubs.charge_kinds.asset_installed.clause
}

test_every_rule_names_a_spec_kind if {
	every k, _ in hubs.charge_rules {
		data.spec.hubs.charge_kinds[k]
	}
}

test_the_recovery_comes_from_the_spec if {
	d := decide(removal("no_fault_found"), hub) with data.spec.hubs.no_fault.recovery_bp as 7500
	d.remaining.recovery_bp == 7500
}
