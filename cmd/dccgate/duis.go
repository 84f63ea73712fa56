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
	"github.com/dccgate/dccgate/duis"
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
                                                 issue a DUIS signing certificate (x500UniqueIdentifier = User ID)`

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
	if _, err := duis.Verify(doc, func(is duis.IssuerSerial) *ecdsa.PublicKey {
		if is.Serial.Cmp(want.Serial) == 0 && duis.SameName(is.Issuer, want.Issuer) {
			return cert.PublicKey
		}
		return nil
	}); err != nil {
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
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		fmt.Fprintln(stderr, "dccgate duis cert:", err)
		return exitFail
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
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
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no private key", path)
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, errors.New("the key is not ECDSA")
			}
			return ec, nil
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		}
	}
}

func readDUISCert(path string) (*duis.Cert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return duis.ParseCertPEM(b)
}

func randReader() io.Reader { return cryptorand.Reader }
