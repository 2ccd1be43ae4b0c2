package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release this binary is; "dev" unless the build sets it
// (-ldflags "-X main.version=…"). buildVersion says more.
var version = "dev"

// buildVersion describes this binary: its version (the module's when it
// was built as a module of that version), the VCS revision it was built
// from, marked "+dirty" when the tree had changes, the commit time and the
// Go version.
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, info)
}

func describeBuild(v string, info *debug.BuildInfo) string {
	goVersion := runtime.Version()
	var revision, at string
	dirty := false
	if info != nil {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := v
	if revision != "" {
		out += " (revision " + revision[:min(len(revision), 12)]
		if dirty {
			out += "+dirty"
		}
		if at != "" {
			out += ", " + at
		}
		out += ")"
	} else {
		out += " (no VCS revision: not built from a checkout)"
	}
	return fmt.Sprintf("%s %s", out, goVersion)
}
