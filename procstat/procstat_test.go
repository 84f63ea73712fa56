package procstat

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestReadsGrow(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc: Linux only")
	}
	cpu0, w0 := CPU(), Written()
	// Spin until the kernel has charged some CPU (or 5 s have gone by).
	for start := time.Now(); CPU() == cpu0 && time.Since(start) < 5*time.Second; {
	}
	if CPU() <= cpu0 {
		t.Errorf("CPU stayed at %v while spinning", cpu0)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if got := Written() - w0; got < 4096 {
		t.Errorf("Written grew by %d bytes, want at least 4096", got)
	}
	if rss := RSS(); rss < 1<<20 {
		t.Errorf("RSS = %d bytes, want at least 1 MiB", rss)
	}
}
