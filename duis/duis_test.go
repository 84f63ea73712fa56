package duis

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
)

type signer struct {
	key  *ecdsa.PrivateKey
	cert *Cert
}

// testPKI issues a CA and a DCC-form user certificate for the supplier.
func testPKI(t testing.TB, eui string) (signer, *ecdsa.PublicKey) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Z1", OrganizationalUnit: []string{"07"}},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	uder, err := IssueUser(ca, caKey, eui, "02", &key.PublicKey, tmpl.NotBefore, tmpl.NotAfter)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCert(uder)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, c}, &caKey.PublicKey
}

func (s signer) lookup(is IssuerSerial) *ecdsa.PublicKey {
	want := s.cert.IssuerSerial()
	if SameName(is.Issuer, want.Issuer) && is.Serial.Cmp(want.Serial) == 0 {
		return s.cert.PublicKey
	}
	return nil
}

func (s signer) sign(t testing.TB, b []byte) []byte {
	t.Helper()
	doc, err := Parse(b, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Sign(doc, s.key, s.cert.IssuerSerial())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		note, in, inclusive, exclusiveOfFirstChild string
	}{
		{"attributes sorted, namespaces first, empty elements expanded",
			`<a xmlns:z="urn:z" xmlns="urn:d" b="2" z:c="3" a="1"><e/></a>`,
			`<a xmlns="urn:d" xmlns:z="urn:z" a="1" b="2" z:c="3"><e></e></a>`,
			`<e xmlns="urn:d"></e>`},
		{"escaping of text and attributes",
			`<a t="&quot;&lt;&amp;&gt;'">x &amp; &lt; &gt; "q"<b/></a>`,
			`<a t="&quot;&lt;&amp;>'">x &amp; &lt; &gt; "q"<b></b></a>`,
			`<b></b>`},
		{"redundant declarations dropped; exclusive renders only what is used",
			`<p:a xmlns:p="urn:p" xmlns:q="urn:q"><p:b xmlns:p="urn:p"><q:c/></p:b></p:a>`,
			`<p:a xmlns:p="urn:p" xmlns:q="urn:q"><p:b><q:c></q:c></p:b></p:a>`,
			`<p:b xmlns:p="urn:p"><q:c xmlns:q="urn:q"></q:c></p:b>`},
		{"default namespace undeclared in a child",
			`<a xmlns="urn:d"><b xmlns=""><c/></b></a>`,
			`<a xmlns="urn:d"><b xmlns=""><c></c></b></a>`,
			`<b><c></c></b>`},
		{"comments and the XML declaration dropped, CR kept as a reference",
			"<?xml version=\"1.0\"?>\n<a><!-- c -->x&#13;y</a>",
			`<a>x&#xD;y</a>`,
			``},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, err := Parse([]byte(tc.in), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(Canonical(d.Root, nil)); got != tc.inclusive {
				t.Errorf("inclusive:\n got %s\nwant %s", got, tc.inclusive)
			}
			if tc.exclusiveOfFirstChild == "" {
				return
			}
			if got := string(ExclusiveCanonical(d.Root.Elements()[0])); got != tc.exclusiveOfFirstChild {
				t.Errorf("exclusive:\n got %s\nwant %s", got, tc.exclusiveOfFirstChild)
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s, _ := testPKI(t, "90-B3-D5-1F-30-01-00-00")
	for _, name := range []string{"read-import-registers.xml", "display-message.xml", "enable-supply.xml", "read-inventory.xml"} {
		t.Run(name, func(t *testing.T) {
			signed := s.sign(t, fixture(t, name))
			doc, err := Parse(signed, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := Verify(doc, s.lookup)
			if err != nil {
				t.Fatalf("%v\n%s", err, signed)
			}
			if sig.Key.Serial.Cmp(s.cert.Serial) != 0 {
				t.Fatal("wrong key")
			}
			// Re-signing replaces the signature rather than adding one.
			again := s.sign(t, signed)
			if n := bytes.Count(again, []byte("SignatureValue>")); n != 2 {
				t.Fatalf("%d SignatureValue tags after re-signing", n)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	s, _ := testPKI(t, "90-B3-D5-1F-30-01-00-00")
	other, _ := testPKI(t, "90-B3-D5-1F-30-02-00-00")
	signed := string(s.sign(t, fixture(t, "read-import-registers.xml")))
	sigStart := strings.Index(signed, "<ds:Signature")
	sigEnd := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
	sigXML := signed[sigStart:sigEnd]
	tests := []struct {
		note   string
		doc    string
		lookup Lookup
		code   string
	}{
		{"unsigned", string(fixture(t, "read-import-registers.xml")), s.lookup, CodeSignature},
		{"body changed", strings.Replace(signed, ":1001<", ":1002<", 1), s.lookup, CodeSignature},
		{"another user's key", signed, func(IssuerSerial) *ecdsa.PublicKey { return other.cert.PublicKey }, CodeSignature},
		{"certificate not in the registry", signed, other.lookup, CodeUnknownCertificate},
		{"two signatures", strings.Replace(signed, "</sr:Request>", sigXML+"</sr:Request>", 1), s.lookup, CodeSignature},
		{"wrapping: signed content moved under a wrapper, a forged body acted on",
			strings.Replace(strings.Replace(signed, sigXML, "", 1), "<sr:Header>", "<sr:Header><sr:Wrapper>"+sigXML+"</sr:Wrapper>", 1), s.lookup, CodeSignature},
		{"reference to an element, not the document", strings.Replace(signed, `URI=""`, `URI="#body"`, 1), s.lookup, CodeSignature},
		{"another digest algorithm", strings.Replace(signed, AlgSHA256, "http://www.w3.org/2000/09/xmldsig#sha1", 1), s.lookup, CodeSignature},
		{"another canonicalization", strings.Replace(signed, AlgExcC14N, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", 1), s.lookup, CodeSignature},
		{"a certificate in KeyInfo", strings.Replace(signed, "<ds:X509IssuerSerial>", "<ds:X509Certificate>AA==</ds:X509Certificate><ds:X509IssuerSerial>", 1), s.lookup, CodeSignature},
		{"signature not last", strings.Replace(strings.Replace(signed, sigXML, "", 1), "<sr:Header>", sigXML+"<sr:Header>", 1), s.lookup, CodeSignature},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(doc, tc.lookup)
			if !errors.Is(err, &ParseError{Code: tc.code}) {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestParseRefusesHostileInput(t *testing.T) {
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	tests := []struct {
		note, doc, code string
	}{
		{"external entity (XXE)", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`, CodeDTD},
		{"billion laughs", `<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>`, CodeDTD},
		{"undeclared entity", `<r>&x;</r>`, CodeXML},
		{"too deep", deep, CodeTooDeep},
		{"too large", "<r>" + strings.Repeat("x", DefaultLimits.MaxBytes) + "</r>", CodeTooLarge},
		{"two roots", `<r/><r/>`, CodeXML},
		{"text after the root", `<r/>x`, CodeXML},
		{"processing instruction", `<r><?php x?></r>`, CodeXML},
		{"undeclared prefix", `<p:r/>`, CodeXML},
		{"another encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><r/>`, CodeXML},
		{"not closed", `<r><a></r>`, CodeXML},
		{"empty", ``, CodeXML},
		{"repeated attribute", `<r a="1" a="2"/>`, CodeXML},
		{"attribute with a line break", "<r a=\"x\ny\"/>", CodeXML},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), DefaultLimits)
			if !errors.Is(err, &ParseError{Code: tc.code}) {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	sp := spec.MustDefault()
	base := string(fixture(t, "read-import-registers.xml"))
	tests := []struct {
		note string
		doc  string
		code string // "" when valid
		srv  string
		cv   string
	}{
		{"CV 1 read", base, "", "4.1.1", "1"},
		{"CV 2 local", strings.Replace(base, "<sr:CommandVariant>1<", "<sr:CommandVariant>2<", 1), "", "4.1.1", "2"},
		{"CV 3 both", strings.Replace(base, "<sr:CommandVariant>1<", "<sr:CommandVariant>3<", 1), "", "4.1.1", "3"},
		{"CV 4 transform", string(fixture(t, "enable-supply.xml")), "", "7.1", "4"},
		{"CV 5 signed pre-command", signedPC(t, "5"), "", "7.1", "5"},
		{"CV 6 signed pre-command, local", signedPC(t, "6"), "", "7.1", "6"},
		{"CV 7 signed pre-command, both", signedPC(t, "7"), "", "7.1", "7"},
		{"CV 8 non-device", string(fixture(t, "read-inventory.xml")), "", "8.2", "8"},
		{"default namespace, sequenced", string(fixture(t, "display-message.xml")), "", "3.1", "1"},
		{"critical service as CV 1", strings.Replace(string(fixture(t, "enable-supply.xml")), "<sr:CommandVariant>4<", "<sr:CommandVariant>1<", 1), CodeCommandVariant, "", ""},
		{"non-critical service as CV 4", strings.Replace(base, "<sr:CommandVariant>1<", "<sr:CommandVariant>4<", 1), CodeCommandVariant, "", ""},
		{"device service as CV 8", strings.Replace(base, "<sr:CommandVariant>1<", "<sr:CommandVariant>8<", 1), CodeCommandVariant, "", ""},
		{"CV 9", strings.Replace(base, "<sr:CommandVariant>1<", "<sr:CommandVariant>9<", 1), CodeCommandVariant, "", ""},
		{"postdated SRV", string(fixture(t, "read-meter-balance.xml")), CodePostdated, "", ""},
		{"unknown SRV", strings.Replace(base, "4.1.1<", "4.1.9<", 1), CodeUnknownSRV, "", ""},
		{"another SRV's body", strings.Replace(base, "<sr:ReadInstantaneousImportRegisters/>", "<sr:EnableSupply/>", 1), CodeUnknownSRV, "", ""},
		{"reference not the SRV's", strings.Replace(base, "<sr:ServiceReference>4.1<", "<sr:ServiceReference>4.2<", 1), CodeStructure, "", ""},
		{"request ID without a counter", strings.Replace(base, ":1001<", "<", 1), CodeRequestID, "", ""},
		{"request ID with a bad EUI-64", strings.Replace(base, "90-B3-D5-1F-30-01-00-00:", "90-B3-D5:", 1), CodeRequestID, "", ""},
		{"header out of order", strings.Replace(strings.Replace(base, "<sr:CommandVariant>1</sr:CommandVariant>", "", 1), "</sr:ServiceReferenceVariant>", "</sr:ServiceReferenceVariant><sr:CommandVariant>1</sr:CommandVariant>", 1), CodeStructure, "", ""},
		{"first in sequence and a predecessor", strings.Replace(string(fixture(t, "display-message.xml")), "<PrecedingServiceRequestID>", "<FirstInSequence>true</FirstInSequence><PrecedingServiceRequestID>", 1), CodeStructure, "", ""},
		{"predecessor of another originator", strings.Replace(string(fixture(t, "display-message.xml")), "<PrecedingServiceRequestID>90-B3-D5-1F-30-01", "<PrecedingServiceRequestID>90-B3-D5-1F-30-02", 1), CodeRequestID, "", ""},
		{"two body elements", strings.Replace(base, "<sr:ReadInstantaneousImportRegisters/>", "<sr:ReadInstantaneousImportRegisters/><sr:ReadInstantaneousImportRegisters/>", 1), CodeStructure, "", ""},
		{"wrong namespace", strings.Replace(base, "http://www.dccinterface.co.uk/ServiceUserGateway", "urn:other", 1), CodeStructure, "", ""},
		{"schema version 4", strings.Replace(base, `schemaVersion="5.4"`, `schemaVersion="4.0"`, 1), CodeStructure, "", ""},
		{"mixed text", strings.Replace(base, "<sr:Body>", "<sr:Body>junk", 1), CodeStructure, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecodeRequest(doc, sp)
			if tc.code != "" {
				if !errors.Is(err, &ParseError{Code: tc.code}) {
					t.Fatalf("got %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.SRV.SRV != tc.srv || r.CommandVariant != tc.cv {
				t.Fatalf("decoded SRV %s CV %s", r.SRV.SRV, r.CommandVariant)
			}
		})
	}
}

func signedPC(t *testing.T, cv string) string {
	t.Helper()
	return `<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>` +
		`<sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1003</sr:RequestID><sr:CommandVariant>` + cv +
		`</sr:CommandVariant><sr:ServiceReference>7.1</sr:ServiceReference><sr:ServiceReferenceVariant>7.1</sr:ServiceReferenceVariant></sr:Header>` +
		`<sr:Body><sr:SignedPreCommand><sr:GBCSPayload>AQID</sr:GBCSPayload></sr:SignedPreCommand></sr:Body></sr:Request>`
}

func TestDecodeRequestFields(t *testing.T) {
	sp := spec.MustDefault()
	doc, err := Parse(fixture(t, "display-message.xml"), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRequest(doc, sp)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["message"] != "Hello & welcome" || r.Preceding != "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1001" || r.Counter != 1002 {
		t.Fatalf("decoded %+v", r)
	}
	doc, _ = Parse(fixture(t, "read-import-registers.xml"), DefaultLimits)
	r, _ = DecodeRequest(doc, sp)
	if r.Fields["register"] != "total" || r.Target != "00-DB-12-34-56-78-90-A0" {
		t.Fatalf("decoded %+v", r)
	}
}

func TestUserCertificate(t *testing.T) {
	s, caPub := testPKI(t, "90-B3-D5-1F-30-01-00-00")
	if s.cert.EUI64 != "90-B3-D5-1F-30-01-00-00" {
		t.Fatalf("EUI-64 %q", s.cert.EUI64)
	}
	if _, err := x509.ParseCertificate(s.cert.Raw); err == nil {
		t.Log("crypto/x509 parsed the x500UniqueIdentifier: the own parser is no longer needed")
	}
	if !s.cert.CheckSignatureFrom(caPub) {
		t.Fatal("the CA's signature does not verify")
	}
	other, otherCA := testPKI(t, "90-B3-D5-1F-30-02-00-00")
	if s.cert.CheckSignatureFrom(otherCA) || other.cert.CheckSignatureFrom(caPub) {
		t.Fatal("a certificate verifies against another CA")
	}
	if got := s.cert.IssuerSerial().Issuer; !SameName(got, "CN=Z1, OU=07") || SameName(got, "CN=Z2,OU=07") {
		t.Fatalf("issuer %q", got)
	}
}

// refused marks a body TestDecodeRealBodies expects refused (structure);
// device names the Device a Non-Device request is for, not a field.
const (
	refused = "(refused)"
	device  = "(device)"
)

// Bodies as DCC Boxed's templates lay them out (ECS01a, ECS46a, ECS46c),
// cut to what is read.
const (
	touTariff = `<sr:UpdateImportTariffPrimaryElement><sr:ElecTariffElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:SwitchingTable/></sr:ElecTariffElements>` +
		`<sr:PriceElements><sr:ElectricityPriceElements><sr:StandingCharge>20000</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale><sr:PriceScale>-5</sr:PriceScale>` +
		`<sr:TOUTariff><sr:TOUPrice index="1">2121</sr:TOUPrice><sr:TOUPrice index="2">3127</sr:TOUPrice><sr:TOUPrice index="3">4744</sr:TOUPrice></sr:TOUTariff>` +
		`</sr:ElectricityPriceElements></sr:PriceElements></sr:UpdateImportTariffPrimaryElement>`
	blockTariff = `<sr:UpdateImportTariffPrimaryElement><sr:ElecTariffElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:ThresholdMatrix><sr:Thresholds index="1"><sr:BlockThreshold index="1">10000</sr:BlockThreshold></sr:Thresholds></sr:ThresholdMatrix></sr:ElecTariffElements>` +
		`<sr:PriceElements><sr:ElectricityPriceElements><sr:StandingCharge>20000</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale><sr:PriceScale>-5</sr:PriceScale>` +
		`<sr:BlockTariff><sr:BlockPrices index="1"><sr:BlockPrice index="1">1361</sr:BlockPrice><sr:BlockPrice index="2">2289</sr:BlockPrice></sr:BlockPrices></sr:BlockTariff>` +
		`</sr:ElectricityPriceElements></sr:PriceElements></sr:UpdateImportTariffPrimaryElement>`
	updatePrice = `<sr:UpdatePricePrimaryElement><sr:ExecutionDateTime>2026-12-01T08:26:05Z</sr:ExecutionDateTime>` +
		`<sr:PriceElements><sr:ElectricityPriceElements><sr:StandingCharge>20000</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale><sr:PriceScale>-5</sr:PriceScale>` +
		`<sr:BlockTariff><sr:BlockPrices index="1"><sr:BlockPrice index="1">3289</sr:BlockPrice></sr:BlockPrices></sr:BlockTariff>` +
		`</sr:ElectricityPriceElements></sr:PriceElements></sr:UpdatePricePrimaryElement>`
	alcDescriptions = `<sr:UpdateDeviceConfigurationALCDescriptions><sr:ALCSHCALCSDescription index="2"><sr:SwitchDescription>Label2</sr:SwitchDescription></sr:ALCSHCALCSDescription>` +
		`<sr:ALCSHCALCSDescription index="3"><sr:SwitchDescription>Label3</sr:SwitchDescription></sr:ALCSHCALCSDescription></sr:UpdateDeviceConfigurationALCDescriptions>`
	alcSchedule = `<sr:UpdateDeviceConfigurationALCScheduler>` +
		`<sr:ALCSHCALCSConnectionSchedule><sr:ActivateDeactivateSwitch index="1"><sr:ActivateSwitch/></sr:ActivateDeactivateSwitch><sr:DaysOfWeekApplicability><sr:DayOfWeekApplicability><sr:DayOfWeekID>Monday</sr:DayOfWeekID></sr:DayOfWeekApplicability></sr:DaysOfWeekApplicability><sr:ALCSScheduleDatesAndTime><sr:SwitchTime>06:00:00.00Z</sr:SwitchTime></sr:ALCSScheduleDatesAndTime></sr:ALCSHCALCSConnectionSchedule>` +
		`<sr:ALCSHCALCSConnectionSchedule><sr:ActivateDeactivateSwitch index="1"><sr:DeactivateSwitch/></sr:ActivateDeactivateSwitch><sr:ALCSScheduleDatesAndTime><sr:SwitchTime>10:00:00.00Z</sr:SwitchTime></sr:ALCSScheduleDatesAndTime></sr:ALCSHCALCSConnectionSchedule>` +
		`</sr:UpdateDeviceConfigurationALCScheduler>`
)

// TestDecodeRealBodies: the bodies of DCC Boxed's templates
// (SmartDCCInnovation/duis-templates) read into the fields the spec needs,
// and a Change of Supplier goes as CV 1 (para 143-146).
func TestDecodeRealBodies(t *testing.T) {
	sp := spec.MustDefault()
	doc := func(cv, srv, body string) string {
		ref := strings.Join(strings.SplitN(srv, ".", 3)[:2], ".")
		return `<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>` +
			`<sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1003</sr:RequestID><sr:CommandVariant>` + cv +
			`</sr:CommandVariant><sr:ServiceReference>` + ref + `</sr:ServiceReference><sr:ServiceReferenceVariant>` + srv +
			`</sr:ServiceReferenceVariant></sr:Header><sr:Body>` + body + `</sr:Body></sr:Request>`
	}
	tests := []struct {
		note, cv, srv, body, field string
		want                       any
	}{
		{"payment mode by element", "4", "1.6", `<sr:UpdatePaymentMode><sr:Credit/></sr:UpdatePaymentMode>`, "mode", "credit"},
		{"log by name", "1", "6.13", `<sr:ReadEventOrSecurityLog><sr:LogToRead>Security</sr:LogToRead></sr:ReadEventOrSecurityLog>`, "log", "security"},
		{"switch by attribute", "4", "7.5", `<sr:ActivateAuxiliaryLoad><sr:ActivateALCSHCALCS index="3"><sr:Duration>30</sr:Duration></sr:ActivateALCSHCALCS></sr:ActivateAuxiliaryLoad>`, "switch", int64(3)},
		{"second alternative", "1", "6.20.1", `<sr:SetDeviceConfigurationImportMPxN><sr:ImportMPRN>1234567890</sr:ImportMPRN></sr:SetDeviceConfigurationImportMPxN>`, "mpxn", "1234567890"},
		{"credential by name", "4", "6.15.1", `<sr:UpdateSecurityCredentialsKRP><sr:RemotePartyRole>NetworkOperator</sr:RemotePartyRole><sr:DigitalSigningCertificate>AQID</sr:DigitalSigningCertificate></sr:UpdateSecurityCredentialsKRP>`, "credential", "network_operator"},
		{"an unknown log is refused", "1", "6.13", `<sr:ReadEventOrSecurityLog><sr:LogToRead>NoSuchLog</sr:LogToRead></sr:ReadEventOrSecurityLog>`, "log", refused},
		{"a required field the Body does not give is refused", "1", "6.20.1", `<sr:SetDeviceConfigurationImportMPxN/>`, "mpxn", refused},
		{"the Power Event log is an event log", "1", "6.13", `<sr:ReadEventOrSecurityLog><sr:LogToRead>PowerEvent</sr:LogToRead></sr:ReadEventOrSecurityLog>`, "log", "event"},
		{"the ALCS Event log is an event log", "1", "6.13", `<sr:ReadEventOrSecurityLog><sr:LogToRead>ALCSEvent</sr:LogToRead></sr:ReadEventOrSecurityLog>`, "log", "event"},
		{"Change of Tenancy's restriction time", "1", "3.2", `<sr:RestrictAccessForChangeOfTenancy><sr:RestrictionDateTime>2014-03-27T15:45:32.00Z</sr:RestrictionDateTime></sr:RestrictAccessForChangeOfTenancy>`, "tenancy_start", "2014-03-27T15:45:32Z"},
		{"voltage thresholds: the average RMS ones", "1", "6.5", `<sr:UpdateDeviceConfigurationVoltage><sr:AverageRMSOverVoltageThreshold>253</sr:AverageRMSOverVoltageThreshold><sr:AverageRMSUnderVoltageThreshold>216</sr:AverageRMSUnderVoltageThreshold><sr:RMSExtremeOverVoltageThreshold>270</sr:RMSExtremeOverVoltageThreshold><sr:RMSExtremeUnderVoltageThreshold>190</sr:RMSExtremeUnderVoltageThreshold></sr:UpdateDeviceConfigurationVoltage>`, "over_voltage", int64(253)},
		{"voltage thresholds: the extreme ones when no average is given", "1", "6.5", `<sr:UpdateDeviceConfigurationVoltage><sr:RMSExtremeOverVoltageThreshold>270</sr:RMSExtremeOverVoltageThreshold><sr:RMSExtremeUnderVoltageThreshold>190</sr:RMSExtremeUnderVoltageThreshold></sr:UpdateDeviceConfigurationVoltage>`, "under_voltage", int64(190)},
		{"gas flow rate as a decimal", "4", "6.7", `<sr:UpdateDeviceConfigurationGasFlow><sr:UncontrolledGasFlowRateDecimal>6.1680</sr:UncontrolledGasFlowRateDecimal></sr:UpdateDeviceConfigurationGasFlow>`, "uncontrolled_flow_limit", 6.168},
		{"gas flow rate in 10^-4 m3/h", "4", "6.7", `<sr:UpdateDeviceConfigurationGasFlow><sr:UncontrolledGasFlowRate>61680</sr:UncontrolledGasFlowRate></sr:UpdateDeviceConfigurationGasFlow>`, "uncontrolled_flow_limit", 6.168},
		{"a HAN Device Log addition names the Device by a sibling", "1", "8.11", `<sr:UpdateHANDeviceLog><sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID><sr:RequestType>Add</sr:RequestType><sr:AddDeviceToCHFWhitelist><sr:JoinTimePeriod>90</sr:JoinTimePeriod></sr:AddDeviceToCHFWhitelist></sr:UpdateHANDeviceLog>`, "add", "00-DB-12-34-56-78-90-A0"},
		{"a HAN Device Log removal", "1", "8.11", `<sr:UpdateHANDeviceLog><sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID><sr:RequestType>Remove</sr:RequestType></sr:UpdateHANDeviceLog>`, "remove", "00-DB-12-34-56-78-90-A0"},
		{"a HAN Device Log removal adds nothing", "1", "8.11", `<sr:UpdateHANDeviceLog><sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID><sr:RequestType>Remove</sr:RequestType></sr:UpdateHANDeviceLog>`, "add", ""},
		{"a pre-notified Device's type", "8", "12.2", `<sr:DevicePrenotification><sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID><sr:DeviceManufacturer>AB01</sr:DeviceManufacturer><sr:DeviceType>ESME</sr:DeviceType></sr:DevicePrenotification>`, "type", "ESME"},
		{"WAN matrix by the PostCode of a partial address", "8", "12.1", `<sr:RequestWANMatrix><sr:PartialAddress><sr:PostCode>M22 0RR</sr:PostCode><sr:AddressIdentifier>Threapwood Road</sr:AddressIdentifier></sr:PartialAddress></sr:RequestWANMatrix>`, "postcode", "M22 0RR"},
		{"the original request of a local Command's response", "8", "8.13", `<sr:ReturnLocalCommandResponse><sr:OriginalRequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000</sr:OriginalRequestID><sr:DeviceGBCSResponse>3wkCAA==</sr:DeviceGBCSResponse></sr:ReturnLocalCommandResponse>`, "original_request_id", "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000"},
		{"Change of Supplier as CV 1", "1", "6.23", `<sr:UpdateSecurityCredentialsCoS><sr:DigitalSigningCertificate>AQID</sr:DigitalSigningCertificate></sr:UpdateSecurityCredentialsCoS>`, "certificate", "AQID"},
		{"a tariff's standing charge, scaled to pence", "4", "1.1.1", touTariff, "standing_charge_pence", int64(20)},
		{"a tariff's unit rate, scaled to millipence", "4", "1.1.1", touTariff, "unit_rate_millipence", int64(2121)},
		{"a TOU tariff's blocks, one a price", "4", "1.1.1", touTariff, "tou_blocks", int64(3)},
		{"a tariff carries no name", "4", "1.1.1", touTariff, "tariff_name", ""},
		{"a block tariff's unit rate is its first block's", "4", "1.1.1", blockTariff, "unit_rate_millipence", int64(1361)},
		{"a block tariff's blocks", "4", "1.1.1", blockTariff, "tou_blocks", int64(2)},
		{"a gas tariff's prices have no scale", "4", "1.1.1", `<sr:UpdateImportTariffPrimaryElement><sr:GasTariffElements/><sr:PriceElements><sr:GasPriceElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:StandingCharge>22465</sr:StandingCharge><sr:TOUTariff><sr:TOUPrice index="1">9600</sr:TOUPrice></sr:TOUTariff></sr:GasPriceElements></sr:PriceElements></sr:UpdateImportTariffPrimaryElement>`, "standing_charge_pence", refused},
		{"a secondary element has no standing charge", "4", "1.1.2", `<sr:UpdateImportTariffSecondaryElement><sr:SwitchingTable/><sr:PriceElements><sr:PriceScale>-5</sr:PriceScale><sr:ElectricityPriceElement index="1">10100</sr:ElectricityPriceElement></sr:PriceElements></sr:UpdateImportTariffSecondaryElement>`, "standing_charge_pence", refused},
		{"an Update Price's standing charge, as 1.1's", "4", "1.2.1", updatePrice, "standing_charge_pence", int64(20)},
		{"an Update Price's unit rate, its first block's", "4", "1.2.1", updatePrice, "unit_rate_millipence", int64(3289)},
		{"a prepayment configuration the gateway does not read is refused, not zero", "4", "2.1", `<sr:UpdatePrepayConfiguration><sr:UpdatePrepayConfigElectricity><sr:EmergencyCreditLimit>300000</sr:EmergencyCreditLimit><sr:LowCreditThreshold>200000</sr:LowCreditThreshold></sr:UpdatePrepayConfigElectricity></sr:UpdatePrepayConfiguration>`, "emergency_credit_limit_pence", refused},
		{"a debt update the gateway does not read is refused, not zero", "4", "2.3", `<sr:UpdateDebt><sr:PaymentDebtRegister>50000</sr:PaymentDebtRegister></sr:UpdateDebt>`, "debt_pence", refused},
		{"a log read is of the newest entry", "1", "4.6.1", `<sr:RetrieveImportDailyReadLog><sr:ReadLogPeriod><sr:StartDateTime>2014-12-01T09:00:00.00Z</sr:StartDateTime><sr:EndDateTime>2014-12-05T11:05:00.00Z</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveImportDailyReadLog>`, "entry", int64(0)},
		{"a load limit counter reset resets the counter", "4", "6.4.2", `<sr:UpdateDeviceConfigurationLoadLimitingCounterReset/>`, "reset_counter", refused},
		{"a meter balance reset", "4", "1.5", `<sr:UpdateMeterBalance><sr:CreditMode><sr:ResetMeterBalance/></sr:CreditMode></sr:UpdateMeterBalance>`, "reset", true},
		{"a meter balance reset adjusts by nothing", "4", "1.5", `<sr:UpdateMeterBalance><sr:PrepaymentMode><sr:ResetMeterBalance/></sr:PrepaymentMode></sr:UpdateMeterBalance>`, "adjustment_pence", int64(0)},
		{"a meter balance adjustment", "4", "1.5", `<sr:UpdateMeterBalance><sr:PrepaymentMode><sr:AdjustMeterBalance>23130</sr:AdjustMeterBalance></sr:PrepaymentMode></sr:UpdateMeterBalance>`, "reset", false},
		{"a top-up by its UTRN alone", "1", "2.2", `<sr:TopUpDevice><sr:UTRN>73946144332040217315</sr:UTRN></sr:TopUpDevice>`, "amount_pence", int64(0)},
		{"firmware named by its hash", "4", "11.3", `<sr:ActivateFirmware><sr:FirmwareHash>AA758690730934FF0685AA758690730934FF0685657788990011223344556677</sr:FirmwareHash></sr:ActivateFirmware>`, "sha256", "AA758690730934FF0685AA758690730934FF0685657788990011223344556677"},
		{"daily consumption of a period", "1", "4.17", `<sr:RetrieveDailyConsumptionLog><sr:ReadLogPeriod><sr:StartDateTime>2014-12-01T09:00:00.00Z</sr:StartDateTime><sr:EndDateTime>2014-12-05T11:05:00.00Z</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveDailyConsumptionLog>`, "from", "2014-12-01T09:00:00Z"},
		{"a time without a zone is UTC", "1", "4.17", `<sr:RetrieveDailyConsumptionLog><sr:ReadLogPeriod><sr:StartDateTime>2014-12-01T09:00:00</sr:StartDateTime><sr:EndDateTime>2014-12-05T11:05:00</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveDailyConsumptionLog>`, "from", "2014-12-01T09:00:00Z"},
		{"a time that is no xs:dateTime is refused", "1", "4.17", `<sr:RetrieveDailyConsumptionLog><sr:ReadLogPeriod><sr:StartDateTime>2014-12-01 09:00</sr:StartDateTime><sr:EndDateTime>2014-12-05T11:05:00Z</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveDailyConsumptionLog>`, "from", refused},
		{"daily consumption of a period counts no days", "1", "4.17", `<sr:RetrieveDailyConsumptionLog><sr:ReadLogPeriod><sr:StartDateTime>2014-12-01T09:00:00.00Z</sr:StartDateTime><sr:EndDateTime>2014-12-05T11:05:00.00Z</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveDailyConsumptionLog>`, "days", int64(0)},
		{"a switch's description: the switch", "4", "6.14.1", alcDescriptions, "switch", int64(2)},
		{"a switch's description", "4", "6.14.1", alcDescriptions, "description", "Label2"},
		{"an ALC schedule is the Device's calendar", "4", "6.14.2", alcSchedule, "switch", int64(0)},
		{"an ALC schedule's switching times", "4", "6.14.2", alcSchedule, "calendar", "06:00:00.00Z 10:00:00.00Z"},
		{"an auxiliary controller schedule's switching times", "4", "6.14.3", `<sr:UpdateDeviceConfigurationAuxiliaryControllerScheduler><sr:AuxiliaryControllerSchedule><sr:AuxiliaryControllerAction auxiliaryControllerN="1"><sr:CommandedStateLevel>0</sr:CommandedStateLevel></sr:AuxiliaryControllerAction><sr:AuxiliaryControllerSchedulePeriodAndTime><sr:SwitchTime>09:00:00.00Z</sr:SwitchTime></sr:AuxiliaryControllerSchedulePeriodAndTime></sr:AuxiliaryControllerSchedule></sr:UpdateDeviceConfigurationAuxiliaryControllerScheduler>`, "calendar", "09:00:00.00Z"},
		{"a maximum demand timeframe", "1", "6.18.1", `<sr:SetMaximumDemandConfigurableTimePeriod><sr:MaximumDemandTimePeriodSchedule><sr:StartTime>17:00:00.00Z</sr:StartTime><sr:EndTime>22:00:00.00Z</sr:EndTime></sr:MaximumDemandTimePeriodSchedule></sr:SetMaximumDemandConfigurableTimePeriod>`, "timeframe_end", "22:00:00.00Z"},
		{"a maximum demand reset", "1", "6.18.2", `<sr:ResetMaximumDemandRegisters><sr:MaxDemandActivePowerImportValue/></sr:ResetMaximumDemandRegisters>`, "reset", true},
		{"ALCS data of every switch", "1", "7.7", `<sr:ReadALCSData/>`, "switch", int64(0)},
		{"alert settings by GBCS code", "1", "6.22", `<sr:ConfigureAlertBehaviour><sr:ElectricitySupplierAlerts><sr:SupplierESMECommon><sr:x810D>Enable</sr:x810D><sr:x810E>Disable</sr:x810E></sr:SupplierESMECommon><sr:SupplierESMEPolyPhase><sr:x81B7>Enable</sr:x81B7></sr:SupplierESMEPolyPhase></sr:ElectricitySupplierAlerts></sr:ConfigureAlertBehaviour>`, "settings",
			"ElectricitySupplierAlerts/SupplierESMECommon/x810D=Enable ElectricitySupplierAlerts/SupplierESMECommon/x810E=Disable ElectricitySupplierAlerts/SupplierESMEPolyPhase/x81B7=Enable"},
		{"a gas event's four settings", "1", "6.22", `<sr:ConfigureAlertBehaviour><sr:GasSupplierAlertEventSettings><sr:x810E><sr:WANAlert>Enable</sr:WANAlert><sr:HANAlert>Disable</sr:HANAlert></sr:x810E></sr:GasSupplierAlertEventSettings></sr:ConfigureAlertBehaviour>`, "settings",
			"GasSupplierAlertEventSettings/x810E/WANAlert=Enable GasSupplierAlertEventSettings/x810E/HANAlert=Disable"},
		{"alert settings name no Table 5.4 alert", "1", "6.22", `<sr:ConfigureAlertBehaviour><sr:ElectricityNetworkOperatorLoggingSettings><sr:NetworkOperatorESMECommon><sr:x8014>Enable</sr:x8014></sr:NetworkOperatorESMECommon></sr:ElectricityNetworkOperatorLoggingSettings></sr:ConfigureAlertBehaviour>`, "alert_code", ""},
		{"a local Command's response is its Device's", "8", "8.13", `<sr:ReturnLocalCommandResponse><sr:OriginalRequestID>90-B3-D5-1F-30-01-00-00:00-db-12-34-56-78-90-a0:1000</sr:OriginalRequestID><sr:DeviceGBCSResponse>3wkCAA==</sr:DeviceGBCSResponse></sr:ReturnLocalCommandResponse>`, device, "00-DB-12-34-56-78-90-A0"},
		{"a Non-Device request names its Device", "8", "12.2", `<sr:DevicePrenotification><sr:DeviceID>00-db-12-34-56-78-90-a0</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType></sr:DevicePrenotification>`, device, "00-DB-12-34-56-78-90-A0"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, err := Parse([]byte(doc(tc.cv, tc.srv, tc.body)), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecodeRequest(d, sp)
			if tc.want == refused {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Code != CodeStructure {
					t.Fatalf("%v, want a structure error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := r.Fields[tc.field]
			if tc.field == device {
				got = r.Device
			}
			if l, ok := got.([]string); ok { // a strings field: its words
				got = strings.Join(l, " ")
			}
			if got != tc.want {
				t.Fatalf("%s = %#v, want %#v", tc.field, got, tc.want)
			}
		})
	}
}

// TestCancels: ExecutionDateTime 3000-12-31T00:00:00Z (in any of its
// spellings) marks a DUIS cancellation; another date is a Future Dated
// request.
func TestCancels(t *testing.T) {
	sp := spec.MustDefault()
	for _, tc := range []struct {
		when string
		want bool
	}{
		{"3000-12-31T00:00:00.00Z", true},
		{"3000-12-31T00:00:00Z", true},
		{"3000-12-31T01:00:00+01:00", true},
		{"2030-01-15T09:00:00.00Z", false},
		{"3000-12-31T00:00:01Z", false},
	} {
		t.Run(tc.when, func(t *testing.T) {
			x := `<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>` +
				`<sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1003</sr:RequestID><sr:CommandVariant>1</sr:CommandVariant>` +
				`<sr:ServiceReference>3.1</sr:ServiceReference><sr:ServiceReferenceVariant>3.1</sr:ServiceReferenceVariant></sr:Header>` +
				`<sr:Body><sr:DisplayMessage><sr:ExecutionDateTime>` + tc.when + `</sr:ExecutionDateTime><sr:SupplierMessage>Hi</sr:SupplierMessage></sr:DisplayMessage></sr:Body></sr:Request>`
			d, err := Parse([]byte(x), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecodeRequest(d, sp)
			if err != nil {
				t.Fatal(err)
			}
			if r.Cancels != tc.want || r.ExecuteAt.IsZero() {
				t.Fatalf("Cancels %v (ExecuteAt %v), want %v", r.Cancels, r.ExecuteAt, tc.want)
			}
		})
	}
}

// TestUniqueIdentifierAsText: a certificate whose x500UniqueIdentifier is
// text (what openssl -subj writes) is refused saying so, not read as a
// certificate of no user.
func TestUniqueIdentifierAsText(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDUniqueIdentifier, Value: "90-B3-D5-1F-30-01-00-00"}}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCert(der); err == nil || !strings.Contains(err.Error(), "64-bit BIT STRING") {
		t.Fatalf("ParseCert of a text x500UniqueIdentifier: %v, want an error naming the BIT STRING", err)
	}
}

// TestMappingForms: each form of a field mapping (spec/duis.cue, read) on
// the element layout of DUIS's tariff and schedule messages.
func TestMappingForms(t *testing.T) {
	const ns = "http://www.dccinterface.co.uk/ServiceUserGateway"
	x := `<sr:Body xmlns:sr="` + ns + `"><sr:PriceElements><sr:StandingCharge>20000</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale>` +
		`<sr:PriceScale>-6</sr:PriceScale><sr:TOUTariff><sr:TOUPrice index="1">2121</sr:TOUPrice><sr:TOUPrice index="2">3127</sr:TOUPrice></sr:TOUTariff></sr:PriceElements>` +
		`<sr:Schedule><sr:Switch index="2"><sr:On/></sr:Switch><sr:SwitchTime>06:00:00.00Z</sr:SwitchTime></sr:Schedule>` +
		`<sr:Schedule><sr:Switch index="2"><sr:Off/></sr:Switch><sr:SwitchTime>10:00:00.00Z</sr:SwitchTime></sr:Schedule>` +
		`<sr:Start>2015-02-14T00:00:00.00Z</sr:Start><sr:Date>2015-03-09</sr:Date>` +
		`<sr:Noon>2015-02-14T12:00:00.00Z</sr:Noon><sr:ZonedStart>2015-02-14T00:30:00+01:00</sr:ZonedStart>` +
		`<sr:BillingTime>12:00:00.00Z</sr:BillingTime><sr:Bare>07:30:15</sr:Bare><sr:Ahead>13:30:00+01:00</sr:Ahead>` +
		`<sr:Behind>23:00:00-00:30</sr:Behind><sr:Early>00:30:00+01:00</sr:Early><sr:Late>23:30:00-01:00</sr:Late>` +
		`<sr:Fraction>12:00:00.5Z</sr:Fraction></sr:Body>`
	d, err := Parse([]byte(x), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note, mapping, want string
		given               bool
	}{
		{"text of the first", "TOUPrice", "2121", true},
		{"attribute of the first that has it", "Switch@index", "2", true},
		{"how many", "#TOUPrice", "2", true},
		{"how many, none", "#BlockPrice", "", false},
		{"how many of a text", "#Switch@index[2]", "2", true},
		{"the texts of all", "SwitchTime*", "06:00:00.00Z 10:00:00.00Z", true},
		{"scaled by a sibling", "StandingCharge^StandingChargeScale+2", "20", true},
		{"scaled to a fraction", "TOUPrice^PriceScale+5", "212.1", true},
		{"scaled without its scale is no match", "TOUPrice^NoScale+5|#TOUPrice", "2", true},
		{"a constant for an element present", "On=on", "on", true},
		{"the elements below, by path", "Schedule/", "Schedule/Switch/On= Schedule/SwitchTime=06:00:00.00Z", true},
		{"the elements below one that holds none", "SwitchTime/", "", false},
		{"the next alternative", "BlockPrice|TOUPrice", "2121", true},
		{"nothing", "BlockPrice", "", false},
		{"the day of an xs:dateTime", "Start~day", "14", true},
		{"the day of an xs:dateTime, in UTC", "ZonedStart~day", "13", true},
		{"the day of an xs:date", "Date~day", "9", true},
		{"the day of what is no date", "SwitchTime~day", "06:00:00.00Z", true},
		{"the time of an xs:dateTime", "Noon~time", "12:00:00", true},
		{"the time of an xs:dateTime, in UTC", "ZonedStart~time", "23:30:00", true},
		{"the time of an xs:time (ECS30)", "BillingTime~time", "12:00:00", true},
		{"the time of an xs:time with no zone (UTC)", "Bare~time", "07:30:15", true},
		{"the time of an xs:time ahead of UTC", "Ahead~time", "12:30:00", true},
		{"the time of an xs:time behind UTC", "Behind~time", "23:30:00", true},
		{"a fraction of a second is kept, for the rule", "Fraction~time", "12:00:00.5", true},
		{"the time of what is no time", "Date~time", "2015-03-09", true},
		{"the next alternative's time", "NoTime~time|Start~time", "00:00:00", true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, given, err := read(d.Root, ns, tc.mapping)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || given != tc.given {
				t.Fatalf("read(%q) = %q, %v; want %q, %v", tc.mapping, got, given, tc.want, tc.given)
			}
		})
	}
	// An xs:time whose zone puts it on another day in UTC: the day given
	// beside it would not be its day.
	refused := []struct{ note, mapping, names string }{
		{"on the day before in UTC", "Early~time", `Early "00:30:00+01:00" is 23:30:00 UTC of the day before`},
		{"on the day after in UTC", "Late~time", `Late "23:30:00-01:00" is 00:30:00 UTC of the day after`},
	}
	for _, tc := range refused {
		t.Run(tc.note, func(t *testing.T) {
			if got, _, err := read(d.Root, ns, tc.mapping); err == nil || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("read(%q) = %q, %v; want an error naming %q", tc.mapping, got, err, tc.names)
			}
		})
	}
}

// TestParseByteOrderMark: a UTF-8 byte-order mark before anything else is
// legal XML and accepted, a signed document verifies with one added (the
// signature is over the canonical form); one elsewhere is still text
// outside the root.
func TestParseByteOrderMark(t *testing.T) {
	s, _ := testPKI(t, "90-B3-D5-1F-30-01-00-00")
	bom := "\xEF\xBB\xBF"
	signed := string(s.sign(t, fixture(t, "read-import-registers.xml")))
	tests := []struct {
		note, doc string
		code      string // "" accepted
		verify    bool
	}{
		{"before the declaration", bom + `<?xml version="1.0" encoding="UTF-8"?>` + "\n<r/>", "", false},
		{"before the root", bom + `<r/>`, "", false},
		{"before a signed document", bom + signed, "", true},
		{"twice", bom + bom + `<r/>`, CodeXML, false},
		{"after the declaration", `<?xml version="1.0"?>` + bom + `<r/>`, CodeXML, false},
		{"after the root", `<r/>` + bom, CodeXML, false},
		{"before a DOCTYPE", bom + `<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>`, CodeDTD, false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			doc, err := Parse([]byte(tc.doc), DefaultLimits)
			if tc.code != "" {
				if !errors.Is(err, &ParseError{Code: tc.code}) {
					t.Fatalf("got %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.verify {
				if _, err := Verify(doc, s.lookup); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestSignPrefix: the signature's prefix is one bound to XMLDSig at the
// root, else "ds", else a free one where the document binds "ds" (and
// "ds1") to another namespace; the document signed verifies, its own
// elements of that prefix keep their namespace.
func TestSignPrefix(t *testing.T) {
	s, _ := testPKI(t, "90-B3-D5-1F-30-01-00-00")
	body := `<sr:Header><sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:7</sr:RequestID><sr:CommandVariant>1</sr:CommandVariant><sr:ServiceReference>4.1</sr:ServiceReference><sr:ServiceReferenceVariant>4.1.1</sr:ServiceReferenceVariant></sr:Header><sr:Body><sr:ReadInstantaneousImportRegisters/></sr:Body>`
	root := func(decls string) string {
		return `<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"` + decls + ` schemaVersion="5.4">` + body + `</sr:Request>`
	}
	tests := []struct {
		note, doc, prefix string
	}{
		{"no binding", root(""), "ds"},
		{"ds bound to XMLDSig", root(` xmlns:ds="` + NSDSig + `"`), "ds"},
		{"another prefix bound to XMLDSig", root(` xmlns:sig="` + NSDSig + `"`), "sig"},
		{"ds bound to another namespace", root(` xmlns:ds="urn:not-dsig"`), "ds1"},
		{"ds and ds1 bound to others", root(` xmlns:ds="urn:not-dsig" xmlns:ds1="urn:other"`), "ds2"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			signed := s.sign(t, []byte(tc.doc))
			doc, err := Parse(signed, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(doc, s.lookup); err != nil {
				t.Fatalf("%v\n%s", err, signed)
			}
			els := doc.Root.Elements()
			if sig := els[len(els)-1]; sig.Prefix != tc.prefix || !sig.Is(NSDSig, "Signature") {
				t.Fatalf("signature %s:%s in %s, want prefix %s\n%s", sig.Prefix, sig.Local, sig.Space, tc.prefix, signed)
			}
			if u, ok := doc.Root.lookupNS("ds"); ok && strings.Contains(tc.doc, "urn:not-dsig") && u != "urn:not-dsig" {
				t.Fatalf("the document's ds is now %s", u)
			}
		})
	}
}
