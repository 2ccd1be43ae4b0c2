//go:build race

package http_test

// raceEnabled is set when the race detector runs, which multiplies the
// memory and time a test takes.
const raceEnabled = true
