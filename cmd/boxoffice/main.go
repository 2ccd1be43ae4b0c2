// Command boxoffice runs the Boxoffice ticketing service and its tools.
//
//	boxoffice serve           run the service (the default)
//	boxoffice migrate         apply database migrations and exit
//	boxoffice verify-lottery  recompute a concert's published prequeue draw
//	boxoffice loadtest        simulate an on-sale and benchmark against a bare handler
//	boxoffice events tail     follow the sale's events
//	boxoffice version         print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The live heap is small (tens of MB, more with many open event
		// streams) and the hot paths allocate per request: collecting at
		// 4× the live heap instead of 2× halves the collections for a few
		// tens of MB. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "boxoffice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && isHelp(args[0]) {
		usage(stdout)
		return nil
	}
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "verify-lottery":
		return verifyLotteryCommand(ctx, args, stdout, stderr)
	case "loadtest":
		return loadtestCommand(ctx, args, stdout, stderr)
	case "events":
		return eventsCommand(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "boxoffice", buildVersion())
		return nil
	case "help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// newFlagSet returns the flag set of a command: errors go to stderr, and
// -h prints usage followed by the flags.
func newFlagSet(name, usageText string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	return fs
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: boxoffice <command> [flags]

Commands:
  serve           run the service (default); configure with BOXOFFICE_* variables or flags
  migrate         apply database migrations and exit
  verify-lottery  recompute a concert's published prequeue draw and check it
  loadtest        run a load scenario (join, browse, hold, pay, onsale) against a server
  events tail     follow the sale's events from the admin feed or the NATS stream
  version         print the version, the VCS revision and the Go version

"boxoffice <command> -h" lists a command's flags and their defaults.
With no command, boxoffice serves on :8080 with the embedded store and demo concerts.
`)
}

// serve runs the service until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(configFlags{name: "boxoffice serve", usage: serveUsage, out: stderr}, args, getenv)
	if err != nil {
		return err
	}
	m := NewMain(cfg, stderr)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	m.PrintBanner(stdout)
	<-ctx.Done()
	return m.Close()
}

const serveUsage = `Usage: boxoffice [serve] [flags]

Run the service until interrupted. Each flag has an environment variable of
the same meaning, named after it; a flag wins over its variable.

Flags:
`

const migrateUsage = `Usage: boxoffice migrate [flags]

Apply the database's migrations and exit; the embedded store is migrated
when opened. Each flag has an environment variable of the same meaning.

Flags:
`

// migrateFlags are the settings migrate uses.
var migrateFlags = []string{"database-url", "data-file"}

// migrate applies the migrations of the configured database and exits.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(configFlags{name: "boxoffice migrate", usage: migrateUsage, out: stderr, only: migrateFlags}, args, getenv)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied:", cfg.Mode())
	return nil
}
