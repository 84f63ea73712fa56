package main

// dccgate keys: a DCC User's keys and the signing of Pre-Commands by hand.
//
//	dccgate keys new --user ID --role ROLE [--ca-dir DIR] [--out DIR] [--force]
//	    a key pair and a certificate for the user, signed by the local CA
//	    (created in DIR if missing): OUT/ID.pem and OUT/ID-key.pem (0600)
//	dccgate keys sign --key KEY --request-json FILE --pre-command FILE_OR_BASE64
//	                  [--request-id ID] [--spec DIR] [--json]
//	    correlates the Pre-Command with the request, then signs it and
//	    prints the signature in base64 (--json: the body of
//	    SubmitSignedPreCommand). A Pre-Command that does not correlate is
//	    not signed: the mismatches go to stderr and the exit code is 1.
//
// --request-json is the JSON that was sent to Submit ({"request": {...}})
// or the ServiceRequest alone; --pre-command is base64, a file of base64 or
// raw bytes, or the JSON answer of Submit or GetRequest (its preCommand,
// and its requestId where the envelope had none). Private keys are never
// printed.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

const keysUsage = `usage:
  dccgate keys new --user ID --role ROLE [--ca-dir DIR] [--out DIR] [--force]
  dccgate keys sign --key KEY --request-json FILE --pre-command FILE_OR_BASE64 [--request-id ID] [--spec DIR] [--json]
  dccgate keys duis --user ID --role ROLE [--ca-dir DIR] [--out DIR]   (a DUIS signing certificate: User ID in x500UniqueIdentifier)`

func runKeys(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keysUsage)
		return exitUsage
	}
	switch args[0] {
	case "new":
		return keysNew(args[1:], stdout, stderr)
	case "sign":
		return keysSign(args[1:], stdin, stdout, stderr)
	case "duis":
		return duisCert(args[1:], stdout, stderr) // DUIS form: the User ID in x500UniqueIdentifier (cmd/dccgate/duis.go)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, keysUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "dccgate keys: unknown subcommand %q\n%s\n", args[0], keysUsage)
	return exitUsage
}

func keysNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate keys new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	userID := fs.String("user", "", "the User ID (EUI-64), the certificate's common name")
	role := fs.String("role", "", "the user's role code (EIS, EES, GIS, SNA, ENO, GNO, OU...)")
	caDir := fs.String("ca-dir", filepath.Join(defaultDataDir(), "pki"), "the local CA's directory (ca.pem, ca-key.pem); created if missing")
	out := fs.String("out", "", "where to write ID.pem and ID-key.pem (default: CA_DIR/users)")
	specDir := fs.String("spec", "", "spec directory, for the role codes (default: the embedded spec)")
	force := fs.Bool("force", false, "replace an existing certificate and key")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *userID == "" || *role == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dccgate keys new: --user and --role are required")
		return exitUsage
	}
	sp, err := spec.LoadDir(*specDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if sp.Role(*role) == nil {
		codes := make([]string, len(sp.Roles))
		for i, r := range sp.Roles {
			codes[i] = r.Code
		}
		fmt.Fprintf(stderr, "dccgate keys new: unknown role %q (the spec's roles: %s)\n", *role, strings.Join(codes, " "))
		return exitUsage
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(*caDir, "users")
	}
	certPath, keyPath := filepath.Join(dir, *userID+".pem"), filepath.Join(dir, *userID+"-key.pem")
	if !*force {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(stderr, "dccgate keys new: %s exists (--force replaces it)\n", p)
				return exitFail
			}
		}
	}
	p, err := server.LoadOrCreatePKI(*caDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	iss, err := p.CA.IssueUser(*userID, *role)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := writePrivate(keyPath, iss.KeyPEM); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := os.WriteFile(certPath, iss.CertPEM, 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s (%s), signed by %s:\n  certificate  %s\n  key          %s (0600; keep it to yourself)\n",
		*userID, *role, filepath.Join(*caDir, "ca.pem"), certPath, keyPath)
	return exitOK
}

// writePrivate writes a key readable by its owner only, replacing any file
// there (whose mode os.WriteFile would keep).
func writePrivate(path string, b []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func keysSign(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate keys sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyPath := fs.String("key", "", "the user's private key (PEM)")
	reqPath := fs.String("request-json", "", `the request as sent to Submit (JSON; "-" reads stdin)`)
	pcArg := fs.String("pre-command", "", "the Pre-Command: base64, a file of it, or the JSON answer of Submit or GetRequest")
	requestID := fs.String("request-id", "", "the request ID, where the envelope left it to the gateway")
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	asJSON := fs.Bool("json", false, "print the SubmitSignedPreCommand request body rather than the bare signature")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *keyPath == "" || *reqPath == "" || *pcArg == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dccgate keys sign: --key, --request-json and --pre-command are required")
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "dccgate keys sign:", err)
		return exitFail
	}
	sp, err := spec.LoadDir(*specDir)
	if err != nil {
		return fail(err)
	}
	keyPEM, err := os.ReadFile(*keyPath)
	if err != nil {
		return fail(err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return fail(fmt.Errorf("%s: not an EC private key: %w", *keyPath, err))
	}
	var reqJSON []byte
	if *reqPath == "-" {
		reqJSON, err = io.ReadAll(stdin)
	} else {
		reqJSON, err = os.ReadFile(*reqPath)
	}
	if err != nil {
		return fail(err)
	}
	in, err := serviceRequestJSON(reqJSON)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", *reqPath, err))
	}
	pc, idFromAnswer, err := preCommandArg(*pcArg)
	if err != nil {
		return fail(err)
	}
	id := *requestID
	if id == "" && in.GetEnvelope().GetRequestId() == "" {
		id = idFromAnswer
	}
	req, err := client.RequestFromProto(sp, in, id)
	if err != nil {
		return fail(err)
	}
	sub, err := client.SignedPreCommand(sp, req, pc, key)
	if err != nil {
		var ce *correlate.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "dccgate keys sign: NOT SIGNED: %s\n", ce.Message)
			for _, m := range ce.Mismatches {
				fmt.Fprintf(stderr, "  %s: the request says %s, the Pre-Command says %s\n", m.What, m.Request, m.PreCommand)
			}
			return exitFail
		}
		return fail(err)
	}
	if *asJSON {
		b, err := protojson.Marshal(sub)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(sub.GetSignature()))
	return exitOK
}

// serviceRequestJSON reads the body sent to Submit ({"request": {...}}) or
// a ServiceRequest alone.
func serviceRequestJSON(b []byte) (*dccgatev1.ServiceRequest, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, ok := top["request"]; ok {
		var sub dccgatev1.SubmitRequest
		if err := protojson.Unmarshal(b, &sub); err != nil {
			return nil, err
		}
		return sub.GetRequest(), nil
	}
	var in dccgatev1.ServiceRequest
	if err := protojson.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// preCommandArg reads --pre-command: base64 text, or a file holding the
// raw Pre-Command, its base64, or the JSON answer of Submit or GetRequest
// (then the request ID it names is returned too).
func preCommandArg(arg string) (pc []byte, requestID string, err error) {
	text := []byte(arg)
	if b, rerr := os.ReadFile(arg); rerr == nil {
		if bytes.HasPrefix(b, []byte("DCPC")) {
			return b, "", nil
		}
		text = b
	} else if !errors.Is(rerr, os.ErrNotExist) {
		return nil, "", rerr
	}
	text = bytes.TrimSpace(text)
	if bytes.HasPrefix(text, []byte("{")) {
		var st dccgatev1.RequestState
		var sub dccgatev1.SubmitResponse
		opts := protojson.UnmarshalOptions{DiscardUnknown: true}
		if err := opts.Unmarshal(text, &sub); err == nil && sub.GetState() != nil {
			st.PreCommand, st.RequestId = sub.GetState().GetPreCommand(), sub.GetRequestId()
		} else if err := opts.Unmarshal(text, &st); err != nil {
			return nil, "", fmt.Errorf("--pre-command: %w", err)
		}
		if len(st.GetPreCommand()) == 0 {
			return nil, "", errors.New("--pre-command: the answer has no preCommand (is the request awaiting_signature?)")
		}
		return st.GetPreCommand(), st.GetRequestId(), nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(string(text)); err == nil {
			return b, "", nil
		}
	}
	return nil, "", errors.New("--pre-command: neither a file nor base64")
}
