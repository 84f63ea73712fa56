package gen

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/dccgate/dccgate/spec"
)

// ProtoPath is where the generated request messages live; gateway.proto
// beside it (written by hand) declares the RPCs that carry them.
const ProtoPath = "api/proto/dccgate/v1/requests.proto"

// Proto writes the request messages of the Connect API: one typed message
// per requestable row of the schedule with the fields the spec gives it, the
// common envelope, and ServiceRequest whose oneof carries exactly one body.
// Oneof field numbers are derived from the reference (major*100 + minor, plus
// 50 for a second variant), so adding a row never renumbers another.
func Proto(s *spec.Spec) (Output, error) {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("// %s\n\n", header)
	w("syntax = \"proto3\";\n\npackage dccgate.v1;\n\n")
	w("import \"google/protobuf/timestamp.proto\";\n\n")
	w("option go_package = \"github.com/dccgate/dccgate/api/dccgate/v1;dccgatev1\";\n\n")

	enum := func(name, prefix, doc string, values []string) {
		w("// %s\n", doc)
		w("enum %s {\n", name)
		w("  %s_UNSPECIFIED = 0;\n", prefix)
		for i, v := range values {
			w("  %s_%s = %d;\n", prefix, strings.ToUpper(v), i+1)
		}
		w("}\n\n")
	}
	var roles, types, statuses []string
	for _, r := range s.Roles {
		roles = append(roles, r.Code)
	}
	for _, d := range s.DeviceTypes {
		types = append(types, d.Code)
	}
	for _, st := range s.Statuses {
		statuses = append(statuses, st.Code)
	}
	enum("Role", "ROLE", "Role is a role of the Role Reference Key (Annex 5).", roles)
	enum("DeviceType", "DEVICE_TYPE", "DeviceType is a Device of the glossary.", types)
	enum("DeviceStatus", "DEVICE_STATUS", "DeviceStatus is a Smart Metering Inventory status (para 167).", statuses)
	var cats []string
	for _, c := range s.Categories {
		cats = append(cats, c.Code)
	}
	enum("Category", "CATEGORY", "Category is the category of service asked for (para 128, note 404).", cats)
	var dels []string
	for _, d := range s.Deliveries {
		dels = append(dels, d.Code)
	}
	dels = append(dels, "both")
	enum("Delivery", "DELIVERY", "Delivery says where the resulting Command goes: over the SMWAN, back to the\n// user as a Command for Local Delivery, or both (para 192-193).", dels)

	w(`// Envelope is common to every Service Request.
message Envelope {
  // request_id is originatorID:targetID:counter (EUI-64s, decimal counter);
  // the counter must rise for each user. Empty lets the gateway assign one.
  string request_id = 1;
  // user_id is the sender's User ID (EUI-64); it must be the caller's.
  string user_id = 2;
  // device_id is the target Device ID (EUI-64), where the service names one.
  string device_id = 3;
  Category category = 4;
  // execute_at is the execution time of a future dated request. Given with
  // no category it makes the request future dated; with CATEGORY_ON_DEMAND
  // it is MALFORMED.
  google.protobuf.Timestamp execute_at = 5;
  Delivery delivery = 6;
  // after_request_id sequences this request after another of the same user
  // (para 126-127): it is held until that one succeeds.
  string after_request_id = 7;
  // schedule describes the schedule that 5.1 Create Schedule creates.
  ScheduleSpec schedule = 8;
}

// ScheduleSpec is the recurring service of a 5.1 Create Schedule (note 404).
message ScheduleSpec {
  // service is the reference of a note 404 service, e.g. "4.8".
  string service = 1;
  // every is the period, a Go duration such as "24h".
  string every = 2;
  google.protobuf.Timestamp first = 3;
  // body holds the scheduled service's fields.
  ServiceRequest request = 4;
}

`)
	// One message per requestable row.
	var oneof []string
	msgNames := map[string]string{}
	fieldNames := map[string]string{}
	numbers := map[int]string{}
	variantIdx := map[string]int{}
	for _, svc := range s.Services {
		if svc.Alert {
			continue
		}
		msg := camel(svc.Name)
		if err := checkUnique("proto message", msgNames, msg, svc.Key()); err != nil {
			return Output{}, err
		}
		w("// %s is %s %s.\n", msg, svc.Key(), svc.Name)
		for _, line := range wrap(svc.Description, 76) {
			w("// %s\n", line)
		}
		w("//\n// Critical: %v. Future dated: %s. On demand: %s.", svc.Critical, durText(svc.FutureDated), durText(svc.OnDemand))
		if svc.Scheduled != nil {
			w(" Scheduled: %s.", durText(svc.Scheduled))
		}
		w("\n// Eligible roles: %s. %s.\n", strings.Join(svc.Roles, " "), svc.Clause)
		if len(svc.Fields) == 0 {
			w("message %s {}\n\n", msg)
		} else {
			w("message %s {\n", msg)
		}
		for i, fd := range svc.Fields {
			if fd.Doc != "" {
				w("  // %s\n", fd.Doc)
			}
			if fd.Rule != "" {
				w("  // Rule: %s\n", fd.Rule)
			}
			w("  %s %s = %d;\n", protoType(fd.Type), fd.Name, i+1)
		}
		if len(svc.Fields) > 0 {
			w("}\n\n")
		}
		field := snake(svc.Name)
		if err := checkUnique("oneof field", fieldNames, field, svc.Key()); err != nil {
			return Output{}, err
		}
		num, err := fieldNumber(svc.Ref, variantIdx[svc.Ref])
		if err != nil {
			return Output{}, err
		}
		variantIdx[svc.Ref]++
		if other, ok := numbers[num]; ok {
			return Output{}, fmt.Errorf("gen: oneof number %d of %s collides with %s", num, svc.Key(), other)
		}
		numbers[num] = svc.Key()
		oneof = append(oneof, fmt.Sprintf("    %s %s = %d;", msg, field, num))
	}
	w(`// ServiceRequest is one Service Request: the envelope and exactly one body,
// which names the service (and the variant where rows share a reference).
message ServiceRequest {
  Envelope envelope = 1;
  oneof body {
%s
  }
}
`, strings.Join(oneof, "\n"))
	return Output{Path: ProtoPath, Content: b.Bytes()}, nil
}

// fieldNumber derives a stable oneof number from a reference: "4.10" -> 410,
// the second variant of "1.1" -> 151.
func fieldNumber(ref string, variant int) (int, error) {
	maj, min, ok := strings.Cut(ref, ".")
	a, err1 := strconv.Atoi(maj)
	c, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || c >= 50 || variant > 1 {
		return 0, fmt.Errorf("gen: cannot number reference %q variant %d", ref, variant)
	}
	return a*100 + c + 50*variant, nil
}

func protoType(t string) string {
	switch t {
	case "strings":
		return "repeated string"
	case "timestamp":
		return "google.protobuf.Timestamp"
	default:
		return t
	}
}

func durText(d *spec.Duration) string {
	if d == nil {
		return "N/A"
	}
	return d.Format()
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
