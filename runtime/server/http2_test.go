package server

import (
	"crypto/tls"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestAPIAdvertisesSmallFrames checks the largest frame the API says it
// reads: a Go client gives every open request body a buffer of that size
// (up to 512 KiB), so a SubmitStream cost its client 512 KiB for its life
// under Go's server default of 1 MiB.
func TestAPIAdvertisesSmallFrames(t *testing.T) {
	srv := startDemo(t)
	cert, key := pemPair(t, filepath.Join(srv.PKI.Dir, "users"), supplier)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), tlsFor(t, srv, cert, key))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	settings, ok := f.(*http2.SettingsFrame)
	if !ok || settings.IsAck() {
		t.Fatalf("the server's first frame is %v, want its SETTINGS", f)
	}
	size := uint32(16 << 10) // HTTP/2's initial value, where the server leaves it
	if v, ok := settings.Value(http2.SettingMaxFrameSize); ok {
		size = v
	}
	if size != apiMaxReadFrameSize {
		t.Errorf("the API advertises frames of up to %d bytes, want %d", size, apiMaxReadFrameSize)
	}
}
