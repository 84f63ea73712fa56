package devices

import (
	"maps"
	"testing"
)

// TestFirmwareImages: a device stores the image it runs and at most one
// other (11.1); 11.2 reads them; 11.3 runs a stored one and keeps only it.
func TestFirmwareImages(t *testing.T) {
	e := newEnv(t)
	factory := imageHash("factory:1.0.0")
	images := func() map[string]any {
		t.Helper()
		return e.mustRun("11.2", esme, nil)["images"].(map[string]any)
	}
	steps := []struct {
		name    string
		key     string
		version string
		image   string
		fails   bool
		running string
		stored  map[string]any // after the step
	}{
		{name: "factory", key: "11.2", running: "1.0.0", stored: map[string]any{"1.0.0": factory}},
		{name: "store 2.0", key: "11.1", version: "2.0.0", image: "two", running: "1.0.0", stored: map[string]any{"1.0.0": factory, "2.0.0": imageHash("two")}},
		{name: "3.0 takes 2.0's place", key: "11.1", version: "3.0.0", image: "three", running: "1.0.0", stored: map[string]any{"1.0.0": factory, "3.0.0": imageHash("three")}},
		{name: "the running version again", key: "11.1", version: "1.0.0", image: "one again", running: "1.0.0", stored: map[string]any{"1.0.0": imageHash("one again")}},
		{name: "activate one not stored", key: "11.3", version: "3.0.0", fails: true, running: "1.0.0", stored: map[string]any{"1.0.0": imageHash("one again")}},
		{name: "store 4.0", key: "11.1", version: "4.0.0", image: "four", running: "1.0.0", stored: map[string]any{"1.0.0": imageHash("one again"), "4.0.0": imageHash("four")}},
		{name: "activate 4.0", key: "11.3", version: "4.0.0", running: "4.0.0", stored: map[string]any{"4.0.0": imageHash("four")}},
	}
	for _, s := range steps {
		body := map[string]any{}
		if s.version != "" {
			body["version"] = s.version
		}
		if s.image != "" {
			body["image"] = s.image
		}
		if s.key != "11.2" {
			if r := e.run(s.key, esme, body); r.OK == s.fails {
				t.Fatalf("%s: ok %v (%s %s), want %v", s.name, r.OK, r.Reason, r.Detail, !s.fails)
			}
		}
		fw := e.state(esme).Firmware
		if fw.Version != s.running {
			t.Errorf("%s: running %s, want %s", s.name, fw.Version, s.running)
		}
		if len(fw.Images) != len(s.stored) {
			t.Errorf("%s: %d images stored, want %d: %v", s.name, len(fw.Images), len(s.stored), fw.Images)
		}
		if got := images(); !maps.Equal(got, s.stored) {
			t.Errorf("%s: stored %v, want %v", s.name, got, s.stored)
		}
	}
}
