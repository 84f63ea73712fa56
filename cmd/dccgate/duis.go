package main

import (
	"context"
	"crypto/ecdsa"
	cryptorand "crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

// exitInvalid is `dccgate duis verify`'s answer for a document whose
// signature or structure is invalid.
const exitInvalid = 10

const duisUsage = `usage:
  dccgate duis sign FILE --key KEY --cert CERT   sign an sr:Request as DUIS does (to stdout, or --out)
  dccgate duis verify FILE --cert CERT           0 valid, 10 invalid signature or structure, 2 usage
  dccgate duis srvs [--spec DIR]                 the SRVs accepted (and their command variants) and those refused
  dccgate duis cert --user EUI64 --role CODE --ca-dir DIR --out DIR
                                                 issue a DUIS signing certificate (x500UniqueIdentifier = User ID)
  dccgate duis precommand REQUEST --response RESPONSE --key KEY [--cert GATEWAY_CERT] [--variant 5|6|7]
                                                 verify serviceT's answer against the gateway's certificate, check
                                                 its Pre-Command against the CV 4 request, sign it with the user's
                                                 Pre-Command key and print the CV 5 (6, 7) sr:Request`

func runDUIS(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, duisUsage)
		return exitUsage
	}
	switch args[0] {
	case "sign":
		return duisSign(args[1:], stdout, stderr)
	case "verify":
		return duisVerify(args[1:], stdout, stderr)
	case "srvs":
		return duisSRVs(args[1:], stdout, stderr)
	case "cert":
		return duisCert(args[1:], stdout, stderr)
	case "precommand":
		return duisPreCommand(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, duisUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "dccgate duis: unknown subcommand %q\n%s\n", args[0], duisUsage)
	return exitUsage
}

// fileAndFlags parses "FILE --flags" in either order.
func fileAndFlags(fs *flag.FlagSet, args []string) (string, bool) {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return "", false
	}
	return file, file != ""
}

func duisSign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate duis sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "the signer's private key (PEM, PKCS#8 or EC)")
	certFile := fs.String("cert", "", "the signer's certificate (PEM): its issuer and serial go in KeyInfo")
	out := fs.String("out", "", "write the signed document here (default: stdout)")
	file, ok := fileAndFlags(fs, args)
	if !ok || *keyFile == "" || *certFile == "" {
		fmt.Fprintln(stderr, duisUsage)
		return exitUsage
	}
	key, err := readKey(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign:", err)
		return exitUsage
	}
	cert, err := readDUISCert(*certFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign:", err)
		return exitUsage
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign:", err)
		return exitUsage
	}
	doc, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign:", err)
		return exitInvalid
	}
	signed, err := duis.Sign(doc, key, cert.IssuerSerial())
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign:", err)
		return exitFail
	}
	// What is written must verify as the gateway will verify it: never a
	// document that is not signed, or not by this certificate's key.
	if sd, err := duis.Parse(signed, duis.DefaultLimits); err != nil {
		fmt.Fprintln(stderr, "dccgate duis sign: the signed document does not parse:", err)
		return exitFail
	} else if err := verifyBy(sd, cert); err != nil {
		fmt.Fprintf(stderr, "dccgate duis sign: the signed document does not verify against %s (is %s that certificate's key?): %v\n", *certFile, *keyFile, err)
		return exitFail
	}
	if *out != "" {
		if err := os.WriteFile(*out, signed, 0o644); err != nil {
			fmt.Fprintln(stderr, "dccgate duis sign:", err)
			return exitFail
		}
		return exitOK
	}
	_, _ = stdout.Write(signed)
	return exitOK
}

func duisVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate duis verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	certFile := fs.String("cert", "", "the certificate the signature must name (PEM)")
	specDir := fs.String("spec", "", "spec directory, for an sr:Request's structure (default: the embedded spec)")
	file, ok := fileAndFlags(fs, args)
	if !ok || *certFile == "" {
		fmt.Fprintln(stderr, duisUsage)
		return exitUsage
	}
	cert, err := readDUISCert(*certFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis verify:", err)
		return exitUsage
	}
	sp, err := spec.LoadDir(*specDir)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis verify:", err)
		return exitUsage
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis verify:", err)
		return exitUsage
	}
	doc, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		fmt.Fprintln(stderr, "invalid:", err)
		return exitInvalid
	}
	want := cert.IssuerSerial()
	if err := verifyBy(doc, cert); err != nil {
		fmt.Fprintln(stderr, "invalid:", err)
		return exitInvalid
	}
	if doc.Root.Is(sp.DUIS.Namespace, "Request") {
		r, err := duis.DecodeRequest(doc, sp)
		if err != nil {
			fmt.Fprintln(stderr, "invalid:", err)
			return exitInvalid
		}
		fmt.Fprintf(stdout, "valid: %s SRV %s (%s) CV %s, signed by %s\n", r.RequestID, r.SRV.SRV, r.SRV.Service, r.CommandVariant, want)
		return exitOK
	}
	fmt.Fprintf(stdout, "valid: %s signed by %s\n", doc.Root.Local, want)
	return exitOK
}

// verifyBy checks doc's signature: it must name cert and verify against
// its key.
func verifyBy(doc *duis.Document, cert *duis.Cert) error {
	want := cert.IssuerSerial()
	_, err := duis.Verify(doc, func(is duis.IssuerSerial) *ecdsa.PublicKey {
		if is.Serial.Cmp(want.Serial) == 0 && duis.SameName(is.Issuer, want.Issuer) {
			return cert.PublicKey
		}
		return nil
	})
	return err
}

func duisSRVs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate duis srvs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitUsage
	}
	sp, err := spec.LoadDir(*specDir)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis srvs:", err)
		return exitFail
	}
	d := &sp.DUIS
	fmt.Fprintf(stdout, "%-8s %-14s %-10s %-54s %s\n", "SRV", "row", "CV", "Body element", "service")
	for _, s := range d.SRVs {
		fmt.Fprintf(stdout, "%-8s %-14s %-10s %-54s %s\n", s.SRV, s.Service.Key(), strings.Join(d.Variants(s), ","), s.Element, s.Service.Name)
	}
	fmt.Fprintf(stdout, "\nrefused (%d):\n", len(d.Postdated))
	for _, p := range d.Postdated {
		fmt.Fprintf(stdout, "%-8s %-54s %s: %s\n", p.SRV, p.Element, p.Name, p.Reason)
	}
	return exitOK
}

func duisCert(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate duis cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "the User ID (EUI-64), written as x500UniqueIdentifier")
	role := fs.String("role", "", "the role, written as OU (a DUIS role code such as 02, or ours)")
	caDir := fs.String("ca-dir", filepath.Join(defaultDataDir(), "pki"), "the CA's directory (ca.pem, ca-key.pem)")
	out := fs.String("out", ".", "where to write ID-duis.pem and ID-duis-key.pem")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *user == "" || *role == "" {
		fmt.Fprintln(stderr, duisUsage)
		return exitUsage
	}
	caCertPEM, err := os.ReadFile(filepath.Join(*caDir, "ca.pem"))
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	blk, _ := pem.Decode(caCertPEM)
	if blk == nil {
		fmt.Fprintln(stderr, "dccgate duis cert: ca.pem holds no certificate")
		return exitFail
	}
	caCert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	caKey, err := readKey(filepath.Join(*caDir, "ca-key.pem"))
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	key, err := ecdsa.GenerateKey(caKey.Curve, randReader())
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	now := clock.Real{}.Now()
	der, err := duis.IssueUser(caCert, caKey, *user, *role, &key.PublicKey, caCert.NotBefore, now.AddDate(10, 0, 0))
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitUsage
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	certPath := filepath.Join(*out, *user+"-duis.pem")
	keyPath := filepath.Join(*out, *user+"-duis-key.pem")
	// Like keys new, create the directory; it holds a private key, so only
	// its owner may read it (a directory that exists keeps its mode).
	if err := os.MkdirAll(*out, 0o700); err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	if err := writePrivate(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})); err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s\n%s\n", certPath, keyPath)
	return exitOK
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := pki.ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func readDUISCert(path string) (*duis.Cert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return duis.ParseCertPEM(b)
}

func randReader() io.Reader { return cryptorand.Reader }

// duisReceivers is the repeatable --duis-receiver USER_ID=URL flag.
type duisReceivers map[string]string

func (r *duisReceivers) String() string { return fmt.Sprint(map[string]string(*r)) }

func (r *duisReceivers) Set(v string) error {
	user, url, ok := strings.Cut(v, "=")
	if !ok || user == "" || url == "" {
		return errors.New("want USER_ID=URL")
	}
	if *r == nil {
		*r = duisReceivers{}
	}
	(*r)[user] = url
	return nil
}

// startDUIS serves DUIS on the running server and prints how to use it.
func startDUIS(ctx context.Context, srv *server.Server, world, certs string, receivers duisReceivers, stdout, stderr io.Writer) int {
	opts := server.DUISOptions{CertsDir: certs, Receivers: receivers}
	if world == "boxed" {
		opts.GatewayID = srv.G.Spec().DUIS.Boxed.DCC
	}
	if _, err := srv.StartDUIS(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "DUIS: POST signed sr:Request to %[1]s/api/v1/serviceS, serviceT, serviceD; DUIS certificates in %[2]s (gateway.pem signs the responses)\n", srv.URL, srv.DUISDir())
	return exitOK
}

func duisPreCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate duis precommand", flag.ContinueOnError)
	fs.SetOutput(stderr)
	respFile := fs.String("response", "", "serviceT's sr:Response holding the Pre-Command")
	keyFile := fs.String("key", "", "the user's Pre-Command signing key (PEM): the key of the certificate the gateway holds for the user")
	certFile := fs.String("cert", "", "the gateway's DUIS signing certificate (gateway.pem), which must have signed the response (default: duis/gateway.pem beside the key's directory, as in the gateway's pki directory)")
	variant := fs.String("variant", "5", "the command variant of the request to print: 5 (serviceS: the Command goes over the SMWAN), 6 (serviceD: it comes back in the result as a Command for Local Delivery) or 7 (serviceS: both)")
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	file, ok := fileAndFlags(fs, args)
	if !ok || *respFile == "" || *keyFile == "" {
		fmt.Fprintln(stderr, duisUsage)
		return exitUsage
	}
	switch *variant {
	case "5", "6", "7":
	default:
		fmt.Fprintf(stderr, "dccgate duis precommand: --variant %q: a Signed Pre-Command is sent as CV 5, 6 or 7\n", *variant)
		return exitUsage
	}
	if *certFile == "" {
		// `dccgate serve` writes the users' keys to PKI/users and the
		// gateway's DUIS certificate to PKI/duis/gateway.pem.
		*certFile = filepath.Join(filepath.Dir(filepath.Dir(*keyFile)), "duis", "gateway.pem")
		if _, err := os.Stat(*certFile); err != nil {
			fmt.Fprintf(stderr, "dccgate duis precommand: give --cert, the gateway's DUIS certificate (gateway.pem), to verify the response: %v\n", err)
			return exitUsage
		}
	}
	gwCert, err := readDUISCert(*certFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitUsage
	}
	sp, err := spec.LoadDir(*specDir)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitUsage
	}
	key, err := readKey(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitUsage
	}
	reqBytes, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitUsage
	}
	reqDoc, err := duis.Parse(reqBytes, duis.DefaultLimits)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitInvalid
	}
	req, err := duis.DecodeRequest(reqDoc, sp)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitInvalid
	}
	respBytes, err := os.ReadFile(*respFile)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitUsage
	}
	resp, err := gatewayPreCommand(respBytes, sp.DUIS.Namespace, gwCert)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitInvalid
	}
	// The user checks what it signs (para 155): the Pre-Command must say
	// what the request asked.
	cr := correlate.Request{RequestID: fmt.Sprintf("%s:%s:%d", req.Originator, req.Target, req.Counter), Service: req.SRV.Service.Ref,
		Variant: req.SRV.Service.Variant, DeviceID: req.Target, UserID: req.Originator, ExecuteAt: req.ExecuteAt, Body: req.Fields}
	if err := correlate.Correlate(sp, cr, resp.PreCommand); err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand: the Pre-Command does not match the request:", err)
		return exitInvalid
	}
	signed, err := precommand.Sign(resp.PreCommand, key)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate duis precommand:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, `<?xml version="1.0" encoding="UTF-8"?>
<sr:Request xmlns:sr="%s" schemaVersion="%s">
  <sr:Header>
    <sr:RequestID>%s</sr:RequestID>
    <sr:CommandVariant>%s</sr:CommandVariant>
    <sr:ServiceReference>%s</sr:ServiceReference>
    <sr:ServiceReferenceVariant>%s</sr:ServiceReferenceVariant>
  </sr:Header>
  <sr:Body><sr:SignedPreCommand><sr:GBCSPayload>%s</sr:GBCSPayload></sr:SignedPreCommand></sr:Body>
</sr:Request>
`, sp.DUIS.Namespace, req.SchemaVersion, req.RequestID, *variant, req.SRV.Ref, req.SRV.SRV, duis.EncodeBase64(signed))
	return exitOK
}

// gatewayPreCommand reads serviceT's answer: an sr:Response the gateway
// signed (with gwCert) holding a Pre-Command. A refusal (dccgate's
// dg:Refusal of an HTTP 4xx, an sr:Response with another code, an HTTP
// error's text) is said as what it is.
func gatewayPreCommand(b []byte, ns string, gwCert *duis.Cert) (*duis.DecodedResponse, error) {
	doc, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		return nil, fmt.Errorf("the response is not an sr:Response (an HTTP error's text?): %q: %w", line, err)
	}
	if root := doc.Root; root.Is(duis.NSDCCGate, "Refusal") {
		reason, _ := root.Attr("reason")
		code, _ := root.Attr("code")
		clause, _ := root.Attr("clause")
		return nil, fmt.Errorf("the gateway refused the request (an HTTP 4xx, not a Pre-Command): %s (%s, %s): %s", reason, code, clause, strings.TrimSpace(root.Text()))
	}
	if !doc.Root.Is(ns, "Response") {
		return nil, fmt.Errorf("the response is {%s}%s, not an sr:Response", doc.Root.Space, doc.Root.Local)
	}
	if err := verifyBy(doc, gwCert); err != nil {
		return nil, fmt.Errorf("the response is not the gateway's (%s): %w", gwCert.IssuerSerial(), err)
	}
	resp, err := duis.DecodeResponse(doc, ns)
	if err != nil {
		return nil, err
	}
	if resp.ResponseCode != "I0" {
		return nil, fmt.Errorf("the gateway answered %s, not I0 with a Pre-Command (the X-DCCGate-Reason and -Message headers of its answer say why)", resp.ResponseCode)
	}
	if len(resp.PreCommand) == 0 {
		return nil, errors.New("the response holds no Pre-Command")
	}
	return resp, nil
}
