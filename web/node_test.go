package web_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The front end's tools come from npm (package-lock.json): the tests here
// install them with `npm ci` when node_modules is missing or stale. They
// need Node.js; without it they skip, except when CI=true, where they fail.

func ci() bool { return os.Getenv("CI") == "true" }

// need skips t (or fails it when CI=true) because what is missing.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if ci() {
		t.Fatalf("%s: %v (CI=true: the web tests never skip; .ci/run and scripts/web.sh install it)", what, err)
	}
	t.Skipf("%s: %v; skipped (these tests fail instead when CI=true; scripts/web.sh installs what they need)", what, err)
}

// webDir is this package's folder: package.json, sources, dist/.
func webDir(t *testing.T) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	modulesOnce sync.Once
	modulesErr  error
	modulesOut  []byte
)

// nodeModules makes sure node and the locked npm dependencies are there.
func nodeModules(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(t, tool+" (Node.js 20) is not installed", err)
		}
	}
	dir := webDir(t)
	modulesOnce.Do(func() {
		if fresh(dir) {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		modulesOut, modulesErr = cmd.CombinedOutput()
	})
	if modulesErr != nil {
		t.Fatalf("npm ci: %v\n%s", modulesErr, modulesOut)
	}
}

// fresh reports whether node_modules was installed from the current lock
// file: npm writes node_modules/.package-lock.json on every install.
func fresh(dir string) bool {
	installed, err := os.ReadFile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err == nil && len(installed) > 0 && !st.ModTime().Before(lock.ModTime())
}

// TestBuildIsFresh builds the sources again and compares the result with
// the committed dist/: the binary embeds dist/, so it must be exactly what
// the sources make. After changing a source, run `npm run build` in web/.
func TestBuildIsFresh(t *testing.T) {
	nodeModules(t)
	dir := webDir(t)
	out := t.TempDir()
	cmd := exec.Command("node", filepath.Join("node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "warn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WEB_OUT_DIR="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vite build: %v\n%s", err, b)
	}
	want := readTree(t, filepath.Join(dir, "dist"))
	got := readTree(t, out)
	for name, b := range got {
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("a fresh build makes %s, which dist/ lacks: run `npm run build` in web/ and commit dist/", name)
		case !bytes.Equal(w, b):
			t.Errorf("dist/%s differs from a fresh build: run `npm run build` in web/ and commit dist/", name)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("dist/%s is not made by a fresh build: run `npm run build` in web/ and commit dist/", name)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
