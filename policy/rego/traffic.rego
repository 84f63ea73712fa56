# Traffic management at times of system stress (para 273): whether a Service
# Request is allowed, deferred or refused given the gateway's load. Critical
# requests are never managed; neither are the categories and services the
# spec leaves out. Numbers come from data.spec.traffic; reports/traffic
# executes what this decides. Off unless enabled.
#
#   input.request: {service (row key, "4.1"), ref ("4.1"), critical (bool),
#                   category ("on_demand" | "future_dated" | "scheduled")}
#   input.load:    {in_flight}: requests queued and executing
#   input.enabled: optional; overrides data.spec.traffic.enabled
#
# decision: {action: "allow" | "defer" | "refuse", reason, clause, detail,
# defer_for}. quiet_below is the load below which every decision is allow,
# so a caller may skip evaluating under it (a test below holds it to that).
package dccgate.traffic

traffic := data.spec.traffic

enabled := input.enabled if is_boolean(input.enabled)

else := traffic.enabled

quiet_below := traffic.defer_at_in_flight

managed if {
	not input.request.critical
	input.request.category in traffic.categories
	not exempt
}

exempt if input.request.service in traffic.exempt

exempt if input.request.ref in traffic.exempt

default decision := {"action": "allow", "reason": "", "clause": "", "detail": "", "defer_for": ""}

decision := {
	"action": "refuse",
	"reason": "TRAFFIC_REFUSED",
	"clause": traffic.clause,
	"detail": sprintf("the gateway is under stress: %d requests in flight, refusing non-critical requests from %d", [input.load.in_flight, traffic.refuse_at_in_flight]),
	"defer_for": "",
} if {
	enabled
	managed
	input.load.in_flight >= traffic.refuse_at_in_flight
} else := {
	"action": "defer",
	"reason": traffic.deferred_code,
	"clause": traffic.clause,
	"detail": sprintf("the gateway is under stress: %d requests in flight, deferring non-critical requests by %s from %d", [input.load.in_flight, traffic.defer_for, traffic.defer_at_in_flight]),
	"defer_for": traffic.defer_for,
} if {
	enabled
	managed
	input.load.in_flight >= traffic.defer_at_in_flight
}
