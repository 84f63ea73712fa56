package dccgate.inventory_test

import data.dccgate.inventory

move(event, from, device_type, role, requested) := m if {
	m := inventory.move with input as {"event": event, "from": from, "device_type": device_type, "role": role, "requested": requested}
}

test_prenotify_meter_by_supplier if move("prenotify", "none", "ESME", "EIS", "") == "pending"

test_prenotify_meter_not_by_other_user if not move("prenotify", "none", "ESME", "OU", "")

test_prenotify_type2_by_other_user if move("prenotify", "none", "IHD", "OU", "") == "pending"

test_reactivate_decommissioned if move("prenotify", "decommissioned", "GSME", "GIS", "") == "pending"

test_prenotify_known_device_refused if not move("prenotify", "commissioned", "ESME", "EIS", "")

test_han_join if move("han_join", "pending", "ESME", "EIS", "") == "installed_not_commissioned"

test_hub_commissioned_on_wan if move("wan_connected", "pending", "CHF", "EIS", "") == "commissioned"

test_commission_from_pending_or_installed if {
	move("commission", "pending", "ESME", "EIS", "") == "commissioned"
	move("commission", "installed_not_commissioned", "PPMID", "GIS", "") == "commissioned"
}

test_commission_not_from_commissioned if not move("commission", "commissioned", "ESME", "EIS", "")

test_type2_never_commissioned_by_8_1 if not move("commission", "pending", "IHD", "EIS", "")

test_decommission if move("decommission", "withdrawn", "ESME", "EES", "") == "decommissioned"

test_decommission_twice_refused if not move("decommission", "decommissioned", "ESME", "EIS", "")

test_withdraw_meter_only if {
	move("withdraw", "commissioned", "GSME", "GIS", "") == "withdrawn"
	not move("withdraw", "commissioned", "PPMID", "GIS", "")
}

test_update_inventory_supplier if {
	move("update", "pending", "ESME", "EIS", "installed_not_commissioned") == "installed_not_commissioned"
	not move("update", "pending", "ESME", "EIS", "commissioned")
	not move("update", "commissioned", "ESME", "EIS", "pending")
}

# Any user eligible for 8.4 corrects installation statuses (para 180);
# Type 2 Devices are out of its reach (note 405).
test_update_inventory_other_user if {
	move("update", "pending", "ESME", "OU", "installed_not_commissioned") == "installed_not_commissioned"
	not move("update", "pending", "ESME", "OU", "commissioned")
	not move("update", "pending", "IHD", "OU", "installed_not_commissioned")
}

test_services_with_moves if {
	inventory.services_with_moves == {"12.2", "8.1", "8.3", "8.4", "8.5"}
}
