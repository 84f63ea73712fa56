# The Smart Metering Inventory's status transitions (para 167-187, H5, H6)
# decided over data.spec.transitions: which event may move a device of which
# class from which status to which, for which kind of role.
package dccgate.inventory

# table is every allowed move, one row per (event, from, class, role kind,
# to); the engine indexes it and `dccgate spec transitions` prints it.
table contains row if {
	some t in data.spec.transitions
	some from in t.from
	some class in classes_of(t)
	some kind in kinds_of(t)
	some to in targets_of(t)
	row := {
		"event": t.event,
		"service": object.get(t, "service", ""),
		"subject": t.subject,
		"from": from,
		"class": class,
		"role_kind": kind,
		"to": to,
		"requested": t.to == "requested",
		"clause": t.clause,
	}
}

classes_of(t) := t.classes if t.classes

classes_of(t) := {d.class | some d in data.spec.device_types} if not t.classes

kinds_of(t) := t.role_kinds if t.role_kinds

kinds_of(t) := {r.kind | some r in data.spec.roles} if not t.role_kinds

targets_of(t) := [t.to] if t.to != "requested"

targets_of(t) := object.get(t, "to_allowed", [s.code | some s in data.spec.statuses]) if t.to == "requested"

class_of(device_type) := d.class if {
	some d in data.spec.device_types
	d.code == device_type
}

kind_of(role) := r.kind if {
	some r in data.spec.roles
	r.code == role
}

# move gives the status a device moves to, for input {event, from,
# device_type, role, requested}; undefined if the move is not allowed.
move := row.to if {
	some row in table
	row.event == input.event
	row.from == input.from
	row.class == class_of(input.device_type)
	row.role_kind == kind_of(input.role)
	row.to == wanted(row)
}

wanted(row) := input.requested if row.requested

wanted(row) := row.to if not row.requested

# services_with_moves: the services whose target device a transition moves,
# so the gateway checks the move before accepting the request.
services_with_moves contains t.service if {
	some t in data.spec.transitions
	t.service
	t.subject == "target"
}
