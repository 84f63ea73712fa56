package gen

import (
	"bytes"
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/dccgate/dccgate/spec"
)

// GoTypes writes spec/dcc/dcc_gen.go: the spec's codes as typed constants and
// the schedule as data, for code that needs them at compile time (devices,
// the runtime's switches on reason codes). Rules are never decided from this
// table: the engine reads the loaded spec, so an edited spec takes effect
// without a rebuild.
func GoTypes(s *spec.Spec) (Output, error) {
	f := jen.NewFile("dcc")
	f.HeaderComment(header)
	f.PackageComment("Package dcc holds the codes and the schedule of the dccgate spec as Go constants and data.")

	f.Comment("SpecHash is the content hash of the spec this package was generated from.")
	f.Const().Id("SpecHash").Op("=").Lit(s.Hash)

	// Roles.
	f.Comment("Role is a role of the Role Reference Key (Annex 5).")
	f.Type().Id("Role").String()
	var roleConsts, roleList []jen.Code
	for _, r := range s.Roles {
		roleConsts = append(roleConsts, jen.Id("Role"+r.Code).Id("Role").Op("=").Lit(r.Code).Comment(r.Description))
		roleList = append(roleList, jen.Id("Role"+r.Code))
	}
	f.Const().Defs(roleConsts...)
	f.Comment("Roles lists the roles in the key's order.")
	f.Var().Id("Roles").Op("=").Index().Id("Role").Values(roleList...)

	// Statuses.
	f.Comment("Status is a Smart Metering Inventory status (para 167).")
	f.Type().Id("Status").String()
	var stConsts, stList []jen.Code
	for _, st := range s.Statuses {
		n := "Status" + camel(st.Code)
		stConsts = append(stConsts, jen.Id(n).Id("Status").Op("=").Lit(st.Code).Comment(st.Label))
		stList = append(stList, jen.Id(n))
	}
	f.Const().Defs(stConsts...)
	f.Comment("Statuses lists the statuses in order.")
	f.Var().Id("Statuses").Op("=").Index().Id("Status").Values(stList...)

	// Device types.
	f.Comment("DeviceType is a Device of the glossary.")
	f.Type().Id("DeviceType").String()
	var dtConsts, dtList []jen.Code
	for _, d := range s.DeviceTypes {
		n := "Device" + d.Code
		dtConsts = append(dtConsts, jen.Id(n).Id("DeviceType").Op("=").Lit(d.Code).Comment(d.Name))
		dtList = append(dtList, jen.Id(n))
	}
	f.Const().Defs(dtConsts...)
	f.Comment("DeviceTypes lists the device types.")
	f.Var().Id("DeviceTypes").Op("=").Index().Id("DeviceType").Values(dtList...)

	// Categories.
	f.Comment("Category is a category of service (para 128, note 404).")
	f.Type().Id("Category").String()
	var catConsts []jen.Code
	for _, c := range s.Categories {
		catConsts = append(catConsts, jen.Id("Category"+camel(c.Code)).Id("Category").Op("=").Lit(c.Code).Comment(c.Label))
	}
	f.Const().Defs(catConsts...)

	// Reasons.
	f.Comment("Reason is a stable rejection reason code.")
	f.Type().Id("Reason").String()
	var rsConsts []jen.Code
	rsClauses := jen.Dict{}
	for _, r := range s.Reasons {
		n := "Reason" + camel(toWords(r.Code))
		rsConsts = append(rsConsts, jen.Id(n).Id("Reason").Op("=").Lit(r.Code).Comment(r.Clause))
		rsClauses[jen.Id(n)] = jen.Lit(r.Clause)
	}
	f.Const().Defs(rsConsts...)
	f.Comment("ReasonClauses gives the clause each reason comes from.")
	f.Var().Id("ReasonClauses").Op("=").Map(jen.Id("Reason")).String().Values(rsClauses)

	// Alerts.
	f.Comment("AlertCode is an alert of Table 5.4.")
	f.Type().Id("AlertCode").String()
	var alConsts []jen.Code
	for _, a := range s.Alerts {
		alConsts = append(alConsts, jen.Id("Alert"+a.Code).Id("AlertCode").Op("=").Lit(a.Code).Comment(a.Name))
	}
	f.Const().Defs(alConsts...)

	// Services.
	f.Comment("ServiceKey identifies a schedule row: the reference, and the variant where rows share one.")
	f.Type().Id("ServiceKey").String()
	var svConsts, rows []jen.Code
	names := map[string]string{}
	for _, svc := range s.Services {
		n := "Service" + ident(svc.Key())
		if err := checkUnique("Go constant", names, n, svc.Key()); err != nil {
			return Output{}, err
		}
		svConsts = append(svConsts, jen.Id(n).Id("ServiceKey").Op("=").Lit(svc.Key()).Comment(svc.Name))
		var rl []jen.Code
		for _, r := range svc.Roles {
			rl = append(rl, jen.Id("Role"+r))
		}
		rows = append(rows, jen.Values(jen.Dict{
			jen.Id("Key"):           jen.Id(n),
			jen.Id("Ref"):           jen.Lit(svc.Ref),
			jen.Id("Variant"):       jen.Lit(svc.Variant),
			jen.Id("Name"):          jen.Lit(svc.Name),
			jen.Id("Critical"):      jen.Lit(svc.Critical),
			jen.Id("DeviceService"): jen.Lit(svc.DeviceService),
			jen.Id("Alert"):         jen.Lit(svc.Alert),
			jen.Id("FutureDated"):   durLit(svc.FutureDated),
			jen.Id("OnDemand"):      durLit(svc.OnDemand),
			jen.Id("Scheduled"):     durLit(svc.Scheduled),
			jen.Id("Roles"):         jen.Index().Id("Role").Values(rl...),
		}))
	}
	f.Const().Defs(svConsts...)
	bodies := jen.Dict{}
	for _, svc := range s.Services {
		if !svc.Alert {
			bodies[jen.Lit(snake(svc.Name))] = jen.Id("Service" + ident(svc.Key()))
		}
	}
	f.Comment("ProtoBodies maps each body field of the API's ServiceRequest to its row.")
	f.Var().Id("ProtoBodies").Op("=").Map(jen.String()).Id("ServiceKey").Values(bodies)
	f.Comment("Row is one row of the schedule. A zero duration is N/A.")
	f.Type().Id("Row").Struct(
		jen.Id("Key").Id("ServiceKey"),
		jen.Id("Ref").String(),
		jen.Id("Variant").String(),
		jen.Id("Name").String(),
		jen.Id("Critical").Bool(),
		jen.Id("DeviceService").Bool(),
		jen.Id("Alert").Bool(),
		jen.Id("FutureDated").Qual("time", "Duration"),
		jen.Id("OnDemand").Qual("time", "Duration"),
		jen.Id("Scheduled").Qual("time", "Duration"),
		jen.Id("Roles").Index().Id("Role"),
	)
	f.Comment("Schedule is Tables 5.1 and 5.2 in the spec's order.")
	f.Var().Id("Schedule").Op("=").Index().Id("Row").Values(rows...)

	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return Output{}, fmt.Errorf("gen: rendering Go types: %w", err)
	}
	return Output{Path: "spec/dcc/dcc_gen.go", Content: buf.Bytes()}, nil
}

func durLit(d *spec.Duration) jen.Code {
	if d == nil {
		return jen.Lit(0)
	}
	return jen.Qual("time", "Duration").Call(jen.Lit(int64(d.Std())))
}

// toWords turns a code ("NOT_REGISTERED") into words ("not registered").
func toWords(code string) string {
	b := []byte(code)
	for i := range b {
		if b[i] == '_' {
			b[i] = ' '
		} else if b[i] >= 'A' && b[i] <= 'Z' && i > 0 && b[i-1] != ' ' && b[i-1] != '_' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
